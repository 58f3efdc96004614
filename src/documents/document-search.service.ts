import { Injectable } from '@nestjs/common';
import { type ChunkHit, DocumentChunksRepository, type SearchScope } from './document-chunks.repository.js';

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

/** Retrieval over document chunks: PostgreSQL full-text search, best passages first. */
@Injectable()
export class DocumentSearchService {
  constructor(private readonly chunks: DocumentChunksRepository) {}

  async search(scope: SearchScope, query: string, options: SearchOptions): Promise<DocumentHit[]> {
    const hits = await this.chunks.searchText(scope, query, options.limit, options.marks ?? { start: '**', stop: '**' });
    return hits.map(toHit);
  }

  /** How many documents in scope have text to search, and how many are still being processed. */
  documentsInScope(scope: SearchScope): Promise<{ searchable: number; processing: number }> {
    return this.chunks.countInScope(scope);
  }
}

function toHit(hit: ChunkHit): DocumentHit {
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
    score: hit.rank,
  };
}
