import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { Injectable } from '@nestjs/common';
import type { EmbeddingModelV3 } from '@ai-sdk/provider';
import { embedMany } from 'ai';
import { AppConfig } from '../../config/app-config.js';
import type { EmbeddingSettings } from '../../config/embedding.config.js';

/** Longest part of an error message that is logged: an endpoint may answer with anything. */
const MAX_REASON_LENGTH = 300;

/** The endpoint failed, answered something unusable, or took too long; `reason` is safe to log. */
export class EmbeddingError extends Error {
  constructor(
    readonly reason: string,
    /** The HTTP status of the last attempt, when the endpoint answered. */
    readonly status?: number,
  ) {
    super(reason);
  }

  /** The endpoint refused these inputs (400, 413, 422): retrying them unchanged cannot help. */
  get refusedInput(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 422;
  }
}

/**
 * An OpenAI-compatible `/embeddings` endpoint: retries on 429, 5xx and network errors (the AI
 * SDK's, which honours Retry-After) within a time limit for the whole call.
 */
@Injectable()
export class EmbeddingClient {
  private readonly settings: EmbeddingSettings;
  private readonly model: EmbeddingModelV3 | undefined;

  constructor(config: AppConfig) {
    this.settings = config.embedding;
    const { model, baseUrl, apiKey } = this.settings;
    this.model = model === undefined ? undefined : createOpenAICompatible({ name: 'embedding', baseURL: baseUrl, ...(apiKey && { apiKey }) }).embeddingModel(model);
  }

  /** The configured model's name; undefined when retrieval is full-text search alone. */
  get modelName(): string | undefined {
    return this.settings.model;
  }

  /** One vector per text, in order; all of the same dimensions (the configured ones when set). */
  async embed(texts: string[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<number[][]> {
    if (!this.model) throw new EmbeddingError('No embedding model is configured');
    const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
    let embeddings: number[][];
    try {
      ({ embeddings } = await embedMany({
        model: this.model,
        values: texts,
        maxRetries: this.settings.maxRetries,
        maxParallelCalls: 1,
        abortSignal: AbortSignal.any(signals),
        ...(this.settings.dimensions && { providerOptions: { embedding: { dimensions: this.settings.dimensions } } }),
      }));
    } catch (error) {
      throw new EmbeddingError(this.describe(error, options.timeoutMs), statusOf(error));
    }
    return this.checked(texts.length, embeddings);
  }

  private checked(count: number, embeddings: number[][]): number[][] {
    const dimensions = this.settings.dimensions ?? embeddings[0]?.length ?? 0;
    if (embeddings.length !== count) throw new EmbeddingError(`The endpoint returned ${embeddings.length} embeddings for ${count} texts`);
    for (const embedding of embeddings) {
      if (embedding.length !== dimensions || dimensions === 0) throw new EmbeddingError(`The endpoint returned an embedding of ${embedding.length} dimensions, expected ${dimensions || 'at least one'}`);
      if (!embedding.every(Number.isFinite)) throw new EmbeddingError('The endpoint returned an embedding with a value that is not a finite number');
    }
    return embeddings;
  }

  /** The error in one line, without the API key even if the endpoint echoed it back. */
  private describe(error: unknown, timeoutMs: number): string {
    const name = (error as { name?: string } | undefined)?.name;
    let reason = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : error instanceof Error ? error.message : String(error);
    const status = statusOf(error);
    if (status !== undefined) reason = `HTTP ${status}: ${reason}`;
    const key = this.settings.apiKey;
    if (key) reason = reason.split(key).join('[redacted]');
    reason = reason.replace(/\s+/g, ' ');
    return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason;
  }
}

/** The status of an API call error, or of the last attempt of a retried call. */
function statusOf(error: unknown): number | undefined {
  const failed = error as { lastError?: { statusCode?: number }; statusCode?: number } | undefined;
  return failed?.lastError?.statusCode ?? failed?.statusCode;
}
