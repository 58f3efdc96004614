import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SEARCH_CONFIG } from '../messages/message.entity.js';

/**
 * Whose documents a search reads: one conversation's, or everything a user can read (their
 * private library and the documents of every conversation they take part in).
 */
export type SearchScope = { conversationId: string } | { userId: string };

export interface ChunkHit {
  chunkId: string;
  documentId: string;
  filename: string;
  mediaType: string;
  /** The chunk's position in its document. */
  seq: number;
  page: number | null;
  heading: string | null;
  content: string;
  /** Matches marked with the caller's delimiters. */
  snippet: string;
  rank: number;
}

export interface ChunkHitRow {
  chunk_id: string;
  document_id: string;
  filename: string;
  media_type: string;
  seq: number;
  page: number | null;
  heading: string | null;
  content: string;
  snippet: string;
  rank: number | string;
}

/** The documents a scope reads, as a condition on `d` (documents) with its parameter as $1. */
export function scopeCondition(scope: SearchScope): { sql: string; parameter: string } {
  if ('conversationId' in scope) return { sql: 'd.conversation_id = $1', parameter: scope.conversationId };
  return {
    sql: `((d.conversation_id IS NULL AND d.owner_id = $1) OR d.conversation_id IN (
            SELECT p.conversation_id FROM conversation_participants p
            JOIN conversations c ON c.id = p.conversation_id AND c.deleted_at IS NULL
            WHERE p.user_id = $1))`,
    parameter: scope.userId,
  };
}

/**
 * The ids of the ready documents a scope reads, as an array expression with its parameter as $1.
 * Handing the chunk query a list of ids (rather than joining documents and filtering) lets it
 * combine the (document_id, seq) and full-text indexes; the union keeps each branch on its index.
 */
export function scopeDocumentIds(scope: SearchScope): { sql: string; parameter: string } {
  if ('conversationId' in scope) {
    return { sql: `ARRAY(SELECT d.id FROM documents d WHERE d.conversation_id = $1 AND d.status = 'ready')`, parameter: scope.conversationId };
  }
  return {
    sql: `ARRAY(
            SELECT d.id FROM documents d WHERE d.owner_id = $1 AND d.conversation_id IS NULL AND d.status = 'ready'
            UNION ALL
            SELECT d.id FROM conversation_participants p
            JOIN conversations c ON c.id = p.conversation_id AND c.deleted_at IS NULL
            JOIN documents d ON d.conversation_id = p.conversation_id AND d.status = 'ready'
            WHERE p.user_id = $1)`,
    parameter: scope.userId,
  };
}

@Injectable()
export class DocumentChunksRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Full-text search over the chunks of ready documents in scope, best first. */
  async searchText(scope: SearchScope, query: string, limit: number, marks: { start: string; stop: string }): Promise<ChunkHit[]> {
    const documents = scopeDocumentIds(scope);
    const rows: ChunkHitRow[] = await this.dataSource.query(
      `SELECT hit.*, d.filename, d.media_type,
              ts_headline('${SEARCH_CONFIG}', hit.content, websearch_to_tsquery('${SEARCH_CONFIG}', $2), $4) AS snippet
       FROM (
         SELECT ch.id AS chunk_id, ch.document_id, ch.seq, ch.page, ch.heading, ch.content,
                ts_rank_cd(ch.search_vector, websearch_to_tsquery('${SEARCH_CONFIG}', $2)) AS rank
         FROM document_chunks ch
         WHERE ch.search_vector @@ websearch_to_tsquery('${SEARCH_CONFIG}', $2) AND ch.document_id = ANY(${documents.sql})
         ORDER BY rank DESC, ch.document_id, ch.seq
         LIMIT $3
       ) hit
       JOIN documents d ON d.id = hit.document_id
       ORDER BY hit.rank DESC, hit.document_id, hit.seq`,
      [documents.parameter, query, limit, headlineOptions(marks)],
    );
    return rows.map(toChunkHit);
  }

  /** How many documents in scope have text to search, and how many are still being processed. */
  async countInScope(scope: SearchScope): Promise<{ searchable: number; processing: number }> {
    const where = scopeCondition(scope);
    const [row]: { searchable: number; processing: number }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE d.status = 'ready' AND d.chunks > 0)::int AS searchable, count(*) FILTER (WHERE d.status = 'processing')::int AS processing
       FROM documents d WHERE ${where.sql}`,
      [where.parameter],
    );
    return { searchable: row?.searchable ?? 0, processing: row?.processing ?? 0 };
  }
}

/** ts_headline's options: passages of a few dozen words with the matches between the marks. */
export function headlineOptions(marks: { start: string; stop: string }): string {
  // Quoted: an unquoted empty delimiter makes ts_headline take the next comma as the value.
  return `StartSel="${marks.start}", StopSel="${marks.stop}", MaxWords=35, MinWords=15, MaxFragments=2`;
}

export function toChunkHit(row: ChunkHitRow): ChunkHit {
  return {
    chunkId: row.chunk_id,
    documentId: row.document_id,
    filename: row.filename,
    mediaType: row.media_type,
    seq: row.seq,
    page: row.page,
    heading: row.heading,
    content: row.content,
    snippet: row.snippet,
    rank: Number(row.rank),
  };
}
