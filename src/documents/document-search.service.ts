import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { EmbeddingSettings } from '../config/embedding.config.js';
import { type ChunkHit, DocumentChunksRepository, type SearchScope } from './document-chunks.repository.js';
import { EmbeddingClient, EmbeddingError } from './embeddings/embedding-client.js';
import { EmbeddingWorker } from './embeddings/embedding-worker.service.js';
import { EmbeddingsRepository } from './embeddings/embeddings.repository.js';
import { fuseByReciprocalRank } from './embeddings/reciprocal-rank.js';

export type { SearchScope } from './document-chunks.repository.js';

/** One passage found, with what a citation needs to open it. */
export interface DocumentHit {
  documentId: string;
  /** The document's filename: what a citation shows as its title. */
  title: string;
  mediaType: string;
  chunkId: string;
  chunk: number;
  page: number | null;
  heading: string | null;
  /** The passage with matches marked, for showing. */
  snippet: string;
  /** The whole passage, for a model to read. */
  content: string;
  /** Higher is better; comparable within one search only. */
  score: number;
}

export interface SearchOptions {
  limit: number;
  marks?: { start: string; stop: string };
}

const DEFAULT_MARKS = { start: '**', stop: '**' };
/** Of a query, what is embedded: a question, not a document (a longer one is cut). */
const MAX_QUERY_CHARACTERS = 4000;
/** Candidates each ranking contributes to the fusion, per passage asked for, within bounds. */
const CANDIDATES_PER_RESULT = 3;
const MIN_CANDIDATES = 30;
const MAX_CANDIDATES = 300;

/**
 * Retrieval over document chunks: PostgreSQL full-text search, and with an embedding model and
 * pgvector also similarity of embeddings, the two rankings fused by reciprocal rank. Whenever the
 * query cannot be embedded in time, the search is full-text search alone.
 */
@Injectable()
export class DocumentSearchService {
  private readonly logger = new Logger('DocumentSearch');
  private readonly settings: EmbeddingSettings;
  /** Set while query embeddings fail: the warning is logged once per outage. */
  private failing = false;

  constructor(
    private readonly chunks: DocumentChunksRepository,
    private readonly embeddings: EmbeddingsRepository,
    private readonly client: EmbeddingClient,
    private readonly worker: EmbeddingWorker,
    config: AppConfig,
  ) {
    this.settings = config.embedding;
  }

  async search(scope: SearchScope, query: string, options: SearchOptions): Promise<DocumentHit[]> {
    const marks = options.marks ?? DEFAULT_MARKS;
    const vectors = this.worker.vectors;
    if (!vectors || this.settings.model === undefined || query.trim() === '') {
      return (await this.chunks.searchText(scope, query, options.limit, marks)).map((hit) => toHit(hit, hit.rank));
    }
    const candidates = Math.max(options.limit, Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, options.limit * CANDIDATES_PER_RESULT)));
    const [text, embedding] = await Promise.all([this.chunks.searchText(scope, query, candidates, marks), this.embedQuery(query)]);
    const textOnly = () => text.slice(0, options.limit).map((hit) => toHit(hit, hit.rank));
    if (!embedding) return textOnly();
    let similar: ChunkHit[];
    try {
      similar = await this.embeddings.searchSimilar(scope, this.settings.model, { text: query, embedding }, candidates, marks, vectors);
    } catch (error) {
      this.logger.warn(`Similarity search failed, full-text search alone answers: ${String(error)}`);
      return textOnly();
    }
    return fuseByReciprocalRank([text, similar], (hit) => hit.chunkId)
      .slice(0, options.limit)
      .map(({ item, score }) => toHit(item, score));
  }

  /** The query's embedding, or undefined when the endpoint fails or is slow (logged once per outage). */
  private async embedQuery(query: string): Promise<number[] | undefined> {
    try {
      const [embedding] = await this.client.embed([query.slice(0, MAX_QUERY_CHARACTERS)], { timeoutMs: this.settings.queryTimeoutMs });
      if (this.failing) this.logger.log('Search queries are embedded again');
      this.failing = false;
      return embedding;
    } catch (error) {
      const reason = error instanceof EmbeddingError ? error.reason : String(error);
      if (!this.failing) this.logger.warn(`Cannot embed search queries (${reason}); searching with full-text search alone until it works again`);
      else this.logger.debug(`Search query not embedded: ${reason}`);
      this.failing = true;
      return undefined;
    }
  }

  /** How many documents in scope have text to search, and how many are still being processed. */
  documentsInScope(scope: SearchScope): Promise<{ searchable: number; processing: number }> {
    return this.chunks.countInScope(scope);
  }
}

function toHit(hit: ChunkHit, score: number): DocumentHit {
  return {
    documentId: hit.documentId,
    title: hit.filename,
    mediaType: hit.mediaType,
    chunkId: hit.chunkId,
    chunk: hit.seq,
    page: hit.page,
    heading: hit.heading,
    snippet: hit.snippet,
    content: hit.content,
    score,
  };
}
