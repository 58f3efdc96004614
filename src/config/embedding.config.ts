import type { AgentSettings } from './agent.config.js';
import { ConfigError, type Env, readInt, readSecret, readString, readUrl } from './env.js';

/** The most dimensions a pgvector `vector` holds. */
export const MAX_EMBEDDING_DIMENSIONS = 16_000;

export interface EmbeddingSettings {
  /** The embedding model; undefined: retrieval is full-text search only. */
  model: string | undefined;
  /** An OpenAI-compatible API (its `/embeddings`); OPENAI_BASE_URL unless set. */
  baseUrl: string;
  /** OPENAI_API_KEY unless set. Never log it. */
  apiKey: string | undefined;
  /** Asked of the model (`dimensions`); undefined: the model's own. */
  dimensions: number | undefined;
  /** Chunks embedded per request. */
  batchSize: number;
  /** One request of the background embedding, retries included. */
  timeoutMs: number;
  /** Embedding a search query: past this the search runs on full-text search alone. */
  queryTimeoutMs: number;
  /** Retries of a request that failed with 429, 5xx or a network error. */
  maxRetries: number;
  /** First wait after the endpoint failed; doubled on each failure in a row, up to 64 times this. */
  retryBaseMs: number;
  /** How often the chunks still to embed are looked for besides after each processed document. */
  pollMs: number;
}

export function parseEmbeddingSettings(env: Env, agent: AgentSettings): EmbeddingSettings {
  const model = readString(env, 'EMBEDDING_MODEL');
  if (model !== undefined && model.length > 200) throw new ConfigError('Invalid environment variable EMBEDDING_MODEL: longer than 200 characters');
  return {
    model,
    baseUrl: readUrl(env, 'EMBEDDING_BASE_URL', ['http:', 'https:'])?.replace(/\/$/, '') ?? agent.openaiBaseUrl,
    apiKey: readSecret(env, 'EMBEDDING_API_KEY') ?? agent.openaiApiKey,
    dimensions: readInt(env, 'EMBEDDING_DIMENSIONS', undefined, { min: 1, max: MAX_EMBEDDING_DIMENSIONS }),
    batchSize: readInt(env, 'EMBEDDING_BATCH_SIZE', 64, { min: 1, max: 2048 }),
    timeoutMs: readInt(env, 'EMBEDDING_TIMEOUT_MS', 60_000, { min: 100, max: 600_000 }),
    queryTimeoutMs: readInt(env, 'EMBEDDING_QUERY_TIMEOUT_MS', 3000, { min: 50, max: 60_000 }),
    maxRetries: readInt(env, 'EMBEDDING_MAX_RETRIES', 2, { min: 0, max: 10 }),
    retryBaseMs: readInt(env, 'EMBEDDING_RETRY_BASE_MS', 2000, { min: 10, max: 600_000 }),
    pollMs: readInt(env, 'EMBEDDING_POLL_MS', 60_000, { min: 100, max: 86_400_000 }),
  };
}
