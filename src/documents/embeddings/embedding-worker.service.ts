import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import type { EmbeddingSettings } from '../../config/embedding.config.js';
import { EmbeddingClient, EmbeddingError } from './embedding-client.js';
import { type ChunkToEmbed, EmbeddingsRepository, type VectorSupport } from './embeddings.repository.js';

/** Added to the request time limit for how long a claim lasts: storing the result takes a moment too. */
const CLAIM_MARGIN_MS = 30_000;
/** The longest wait after failures in a row, in multiples of EMBEDDING_RETRY_BASE_MS. */
const MAX_BACKOFF_FACTOR = 64;

/**
 * Embeds the chunks of ready documents in the background, in batches, newest documents first:
 * whatever has no embedding by the current model, so it resumes after a restart and re-embeds
 * after a model change. Claims make concurrent instances share the work. An endpoint that fails
 * is retried later with a growing wait; meanwhile search runs on full-text search alone.
 */
@Injectable()
export class EmbeddingWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Embeddings');
  private readonly settings: EmbeddingSettings;
  private support: VectorSupport | undefined;
  private readonly indexed = new Set<number>();
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private failures = 0;
  /** Whether the endpoint has embedded anything since start-up: until it has, a refusal may say more about the setup than about a chunk. */
  private worked = false;

  constructor(
    config: AppConfig,
    private readonly client: EmbeddingClient,
    private readonly embeddings: EmbeddingsRepository,
  ) {
    this.settings = config.embedding;
  }

  /** pgvector's support when embeddings are configured and can be stored; undefined: full-text search alone. */
  get vectors(): VectorSupport | undefined {
    return this.support;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.settings.model === undefined) return;
    this.support = (await this.embeddings.vectorSupport()) ?? (await this.createTable());
    if (!this.support) {
      this.logger.warn('EMBEDDING_MODEL is set, but the database has no pgvector extension: document search uses full-text search alone');
      return;
    }
    this.logger.log(`Embedding document chunks with ${this.settings.model} (pgvector ${this.support.version})`);
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stop.abort();
    this.wakeUp?.();
    await this.loop;
  }

  /** New chunks are ready to embed (a document was processed). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async createTable(): Promise<VectorSupport | undefined> {
    try {
      return (await this.embeddings.createTableIfPossible()) ? await this.embeddings.vectorSupport() : undefined;
    } catch (error) {
      this.logger.warn(`Cannot create the embeddings table: ${String(error)}`);
      return undefined;
    }
  }

  private async run(): Promise<void> {
    await this.announce();
    while (!this.stop.signal.aborted) {
      this.woken = false;
      let wait = this.settings.pollMs;
      try {
        if (this.settings.dimensions) await this.index(this.settings.dimensions);
        await this.drain();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        wait = this.backoff();
        const reason = error instanceof EmbeddingError ? error.reason : String(error);
        if (!this.stop.signal.aborted) this.logger.warn(`Embedding document chunks failed (${reason}); trying again in ${wait < 10_000 ? `${wait} ms` : `${Math.round(wait / 1000)} s`}`);
      }
      // A wake-up during a backoff waits for it to end: every upload must not hit a failing endpoint again.
      if (this.failures === 0 && this.woken) continue;
      await this.sleep(wait);
    }
  }

  /** How much there is to do, for the operator: after a model change, every chunk. */
  private async announce(): Promise<void> {
    try {
      const missing = await this.embeddings.countMissing(this.settings.model!, this.settings.dimensions);
      if (missing > 0) this.logger.log(`${missing} document chunks to embed with ${this.settings.model}`);
    } catch (error) {
      this.logger.warn(`Cannot count the document chunks to embed: ${String(error)}`);
    }
  }

  /** Embeds batch after batch until nothing is missing; throws when the endpoint or the database fails. */
  private async drain(): Promise<void> {
    const { model, dimensions, batchSize, timeoutMs } = this.settings;
    while (!this.stop.signal.aborted) {
      const batch = await this.embeddings.claim(model!, dimensions, batchSize, timeoutMs + CLAIM_MARGIN_MS);
      if (batch.length === 0) return;
      try {
        await this.embedBatch(batch);
      } catch (error) {
        await this.embeddings.release(batch.map((chunk) => chunk.chunkId)).catch(() => undefined);
        throw error;
      }
    }
  }

  /** A batch the endpoint refuses is split until the chunk it refuses is found and left out. */
  private async embedBatch(batch: ChunkToEmbed[]): Promise<void> {
    let vectors: number[][];
    try {
      vectors = await this.client.embed(batch.map((chunk) => chunk.text), { timeoutMs: this.settings.timeoutMs, signal: this.stop.signal });
    } catch (error) {
      if (!(error instanceof EmbeddingError && error.refusedInput)) throw error;
      if (batch.length === 1) {
        // Until something was embedded, the refusal may be of every input (a wrong model name): keep the chunk.
        if (!this.worked) throw error;
        this.logger.warn(`The embedding endpoint refuses chunk ${batch[0]!.chunkId} (${error.reason}); it is left to full-text search`);
        return this.embeddings.giveUp([batch[0]!.chunkId]);
      }
      const half = Math.ceil(batch.length / 2);
      await this.embedBatch(batch.slice(0, half));
      return this.embedBatch(batch.slice(half));
    }
    this.worked = true;
    await this.embeddings.store(this.settings.model!, batch.map((chunk, i) => ({ chunkId: chunk.chunkId, embedding: vectors[i]! })));
    await this.index(vectors[0]!.length);
  }

  /** Once per dimension count seen: the similarity index for it. */
  private async index(dimensions: number): Promise<void> {
    if (this.indexed.has(dimensions)) return;
    if (!(await this.embeddings.ensureIndex(dimensions))) {
      this.logger.warn(`pgvector indexes at most 4000 dimensions: embeddings of ${dimensions} are searched without an index`);
    }
    this.indexed.add(dimensions);
  }

  private backoff(): number {
    const factor = Math.min(2 ** (this.failures - 1), MAX_BACKOFF_FACTOR);
    return Math.round(this.settings.retryBaseMs * factor * (0.5 + Math.random() / 2));
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stop.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wakeUp = () => {
        if (this.failures > 0 && !this.stop.signal.aborted) return;
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }
}
