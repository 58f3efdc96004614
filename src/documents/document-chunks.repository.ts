import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SEARCH_CONFIG } from '../messages/message.entity.js';

/**
 * Whose documents a search reads: one conversation's; one conversation's and what one user put in
 * themselves (their private library and their uploads to conversations they take part in); or
 * everything a user can read (their library and the documents of every conversation they are in).
 */
export type SearchScope = { conversationId: string } | { conversationId: string; ownerId: string } | { userId: string };

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

/** The scope's ids, as the one array parameter ($1) of the queries below. */
function scopeParameter(scope: SearchScope): string[] {
  if ('ownerId' in scope) return [scope.conversationId, scope.ownerId];
  return ['conversationId' in scope ? scope.conversationId : scope.userId];
}

const CONVERSATION = '($1::uuid[])[1]';
const USER = '($1::uuid[])[1]';
const OWNER = '($1::uuid[])[2]';

/** The scope's documents with one of `statuses` (a constant list), as a query of `d.id`. */
function scopeDocuments(scope: SearchScope, statuses: string): string {
  const conversation = `SELECT d.id FROM documents d WHERE d.conversation_id = ${CONVERSATION} AND d.status IN (${statuses})`;
  if ('ownerId' in scope) {
    // The user's own uploads elsewhere: their private library, and what they put in conversations they still take part in.
    return `${conversation}
            UNION ALL
            SELECT d.id FROM documents d WHERE d.owner_id = ${OWNER} AND d.conversation_id IS NULL AND d.status IN (${statuses})
            UNION ALL
            SELECT d.id FROM documents d
            JOIN conversation_participants p ON p.conversation_id = d.conversation_id AND p.user_id = ${OWNER}
            JOIN conversations c ON c.id = d.conversation_id AND c.deleted_at IS NULL
            WHERE d.owner_id = ${OWNER} AND d.conversation_id <> ${CONVERSATION} AND d.status IN (${statuses})`;
  }
  if ('conversationId' in scope) return conversation;
  return `SELECT d.id FROM documents d WHERE d.owner_id = ${USER} AND d.conversation_id IS NULL AND d.status IN (${statuses})
          UNION ALL
          SELECT d.id FROM conversation_participants p
          JOIN conversations c ON c.id = p.conversation_id AND c.deleted_at IS NULL
          JOIN documents d ON d.conversation_id = p.conversation_id AND d.status IN (${statuses})
          WHERE p.user_id = ${USER}`;
}

/**
 * The ids of the ready documents a scope reads, as an array expression with its parameter as $1.
 * Handing the chunk query a list of ids (rather than joining documents and filtering) lets it
 * combine the (document_id, seq) and full-text indexes; the union keeps each branch on its index.
 */
export function scopeDocumentIds(scope: SearchScope): { sql: string; parameter: string[] } {
  return { sql: `ARRAY(${scopeDocuments(scope, "'ready'")})`, parameter: scopeParameter(scope) };
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
    const [row]: { searchable: number; processing: number }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE d.status = 'ready' AND d.chunks > 0)::int AS searchable, count(*) FILTER (WHERE d.status = 'processing')::int AS processing
       FROM documents d WHERE d.id IN (${scopeDocuments(scope, "'ready', 'processing'")})`,
      [scopeParameter(scope)],
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
