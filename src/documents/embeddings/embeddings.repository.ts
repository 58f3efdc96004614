import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { createEmbeddingsTable } from './embeddings-table.js';
import { SEARCH_CONFIG } from '../../messages/message.entity.js';
import { type ChunkHit, type ChunkHitRow, headlineOptions, scopeDocumentIds, type SearchScope, toChunkHit } from '../document-chunks.repository.js';

/** Arbitrary constant: serialises index creation of instances that start at the same time. */
const INDEX_LOCK_KEY = 727_002;
/** The most dimensions pgvector indexes as `vector`, and as `halfvec` (half precision). */
const MAX_VECTOR_INDEX_DIMENSIONS = 2000;
const MAX_HALFVEC_INDEX_DIMENSIONS = 4000;
/** Tuples an iterative index scan may visit before it gives up (pgvector's default). */
const MAX_SCAN_TUPLES = 20_000;

export interface VectorSupport {
  /** pgvector's version, e.g. "0.8.0". */
  version: string;
  /** Whether an index scan can go on past its first candidates until enough rows pass the filters (0.8+). */
  iterativeScan: boolean;
}

export interface ChunkToEmbed {
  chunkId: string;
  text: string;
}

/**
 * How an embedding of some dimensions is compared: the expression indexed for those dimensions
 * (a partial index per dimension count, since the column has none), or undefined past what
 * pgvector indexes, where search compares every embedding in scope.
 */
function indexedType(dimensions: number): string | undefined {
  if (dimensions <= MAX_VECTOR_INDEX_DIMENSIONS) return `vector(${dimensions})`;
  if (dimensions <= MAX_HALFVEC_INDEX_DIMENSIONS) return `halfvec(${dimensions})`;
  return undefined;
}

export function indexName(dimensions: number): string {
  return `document_chunk_embeddings_${dimensions}_idx`;
}

/** Whether an embedding row is not (or no longer) the current model's and nobody is making it. */
const STALE = (row: string) => `(${row}.model <> $1::varchar OR ($2::integer IS NOT NULL AND ${row}.embedding IS NOT NULL AND vector_dims(${row}.embedding) <> $2)
  OR (${row}.embedding IS NULL AND (${row}.claimed_until IS NULL OR ${row}.claimed_until < now())))`;

/** The query's words, any of them: what a passage found by meaning alone can still have marked. */
const ANY_WORD_QUERY = `coalesce((SELECT string_agg('''' || replace(replace(l, '\\', '\\\\'), '''', '''''') || '''', ' | ')
  FROM unnest(tsvector_to_array(to_tsvector('${SEARCH_CONFIG}', $3))) l), '')::tsquery`;

/** The embeddings of document chunks (pgvector), in SQL: the table exists only where pgvector does. */
@Injectable()
export class EmbeddingsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** pgvector's version when the extension and the embeddings table are there, else undefined. */
  async vectorSupport(): Promise<VectorSupport | undefined> {
    const [row]: { version: string | null }[] = await this.dataSource.query(
      `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version
       WHERE to_regclass('document_chunk_embeddings') IS NOT NULL`,
    );
    if (!row?.version) return undefined;
    const [major = 0, minor = 0] = row.version.split('.').map(Number);
    return { version: row.version, iterativeScan: major > 0 || minor >= 8 };
  }

  /** Creates the table where pgvector has been installed since the migration ran without it. */
  async createTableIfPossible(): Promise<boolean> {
    return this.dataSource.transaction((manager) => createEmbeddingsTable((sql, parameters) => manager.query(sql, parameters)));
  }

  /**
   * The approximate-nearest-neighbour (HNSW, cosine) index for embeddings of these dimensions,
   * built without blocking writes; one left invalid by an interrupted build is built again.
   */
  async ensureIndex(dimensions: number): Promise<boolean> {
    const type = indexedType(dimensions);
    if (!type) return false;
    const name = indexName(dimensions);
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [INDEX_LOCK_KEY]);
      const [existing]: { valid: boolean }[] = await runner.query(
        `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
        [name],
      );
      if (existing?.valid) return true;
      if (existing) await runner.query(`DROP INDEX CONCURRENTLY IF EXISTS "${name}"`);
      const ops = type.startsWith('halfvec') ? 'halfvec_cosine_ops' : 'vector_cosine_ops';
      await runner.query(
        `CREATE INDEX CONCURRENTLY IF NOT EXISTS "${name}" ON document_chunk_embeddings
         USING hnsw ((embedding::${type}) ${ops}) WHERE vector_dims(embedding) = ${dimensions}`,
      );
      return true;
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [INDEX_LOCK_KEY]).catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * Claims up to `limit` chunks of ready documents that have no embedding by this model (newest
   * documents first), for `leaseMs`: a claim row per chunk, which the conflict clause makes
   * exclusive, so concurrent instances never embed the same chunk. An instance that stops mid-way
   * leaves claims that expire.
   */
  async claim(model: string, dimensions: number | undefined, limit: number, leaseMs: number): Promise<ChunkToEmbed[]> {
    const claimed: { chunk_id: string }[] = await this.dataSource.query(
      `INSERT INTO document_chunk_embeddings (chunk_id, model, embedding, claimed_until)
       SELECT ch.id, $1::varchar, NULL, now() + $4::integer * interval '1 millisecond'
       FROM document_chunks ch
       JOIN documents d ON d.id = ch.document_id AND d.status = 'ready'
       LEFT JOIN document_chunk_embeddings e ON e.chunk_id = ch.id
       WHERE e.chunk_id IS NULL OR ${STALE('e')}
       ORDER BY d.created_at DESC, ch.document_id, ch.seq
       LIMIT $3
       ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, embedding = NULL, claimed_until = excluded.claimed_until
       WHERE ${STALE('document_chunk_embeddings')}
       RETURNING chunk_id`,
      [model, dimensions ?? null, limit, leaseMs],
    );
    if (claimed.length === 0) return [];
    const rows: { id: string; heading: string | null; content: string }[] = await this.dataSource.query(
      `SELECT id, heading, content FROM document_chunks WHERE id = ANY($1::uuid[]) ORDER BY document_id, seq`,
      [claimed.map((row) => row.chunk_id)],
    );
    // The heading gives a passage its context, as it does in the full-text index (the first chunk under it has it already).
    return rows.map((row) => ({ chunkId: row.id, text: row.heading && !row.content.startsWith(row.heading) ? `${row.heading}\n\n${row.content}` : row.content }));
  }

  /** Stores the embeddings of claimed chunks (a chunk deleted meanwhile is simply gone). */
  async store(model: string, embeddings: { chunkId: string; embedding: number[] }[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE document_chunk_embeddings e SET embedding = v.embedding::vector, claimed_until = NULL
       FROM unnest($2::uuid[], $3::text[]) AS v(chunk_id, embedding)
       WHERE e.chunk_id = v.chunk_id AND e.model = $1`,
      [model, embeddings.map((item) => item.chunkId), embeddings.map((item) => toVectorLiteral(item.embedding))],
    );
  }

  /** Gives claims back at once (the endpoint failed), so that the next attempt need not wait for them to expire. */
  async release(chunkIds: string[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE document_chunk_embeddings SET claimed_until = NULL
       WHERE chunk_id = ANY($1::uuid[]) AND embedding IS NULL AND claimed_until <> 'infinity'`,
      [chunkIds],
    );
  }

  /**
   * Leaves chunks the endpoint refuses without an embedding by this model (full-text search still
   * finds them): a claim that never expires, until the model changes.
   */
  async giveUp(chunkIds: string[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE document_chunk_embeddings SET claimed_until = 'infinity' WHERE chunk_id = ANY($1::uuid[]) AND embedding IS NULL`,
      [chunkIds],
    );
  }

  /** Chunks of ready documents still to embed by this model (claimed ones included, refused ones not). */
  async countMissing(model: string, dimensions: number | undefined): Promise<number> {
    const [row]: { count: string }[] = await this.dataSource.query(
      `SELECT count(*) AS count FROM document_chunks ch
       JOIN documents d ON d.id = ch.document_id AND d.status = 'ready'
       LEFT JOIN document_chunk_embeddings e ON e.chunk_id = ch.id
       WHERE e.chunk_id IS NULL OR e.model <> $1::varchar OR ($2::integer IS NOT NULL AND vector_dims(e.embedding) <> $2)
          OR (e.embedding IS NULL AND e.claimed_until IS DISTINCT FROM 'infinity')`,
      [model, dimensions ?? null],
    );
    return Number(row!.count);
  }

  /**
   * The `limit` chunks in scope nearest to the query's embedding (cosine distance), nearest first;
   * `rank` is the similarity (1 - distance). The scope is a filter on the index scan: an iterative
   * scan (pgvector 0.8) goes on until enough rows pass it, and when the approximate search still
   * returns fewer than asked the exact one runs, so no passage in scope is silently missed.
   */
  async searchSimilar(scope: SearchScope, model: string, query: { text: string; embedding: number[] }, limit: number, marks: { start: string; stop: string }, support: VectorSupport): Promise<ChunkHit[]> {
    const type = indexedType(query.embedding.length);
    const approximate = type ? await this.nearest(scope, model, query, limit, marks, { type, support }) : undefined;
    if (approximate && approximate.length >= limit) return approximate;
    return this.nearest(scope, model, query, limit, marks, undefined);
  }

  private async nearest(scope: SearchScope, model: string, query: { text: string; embedding: number[] }, limit: number, marks: { start: string; stop: string }, index: { type: string; support: VectorSupport } | undefined): Promise<ChunkHit[]> {
    const documents = scopeDocumentIds(scope);
    const dimensions = query.embedding.length;
    // The indexed expression lets the planner walk the index; the plain one makes it compare every row.
    const distance = index ? `e.embedding::${index.type} <=> $4::${index.type}` : 'e.embedding <=> $4::vector';
    const sql = `SELECT hit.*, ts_headline('${SEARCH_CONFIG}', hit.content, ${ANY_WORD_QUERY}, $6) AS snippet
       FROM (
         SELECT ch.id AS chunk_id, ch.document_id, d.filename, d.media_type, ch.seq, ch.page, ch.heading, ch.content, 1 - (${distance}) AS rank
         FROM document_chunk_embeddings e
         JOIN document_chunks ch ON ch.id = e.chunk_id
         JOIN documents d ON d.id = ch.document_id
         WHERE e.model = $2 AND e.embedding IS NOT NULL AND vector_dims(e.embedding) = ${dimensions} AND ch.document_id = ANY(${documents.sql})
         ORDER BY ${distance}
         LIMIT $5
       ) hit
       ORDER BY hit.rank DESC, hit.document_id, hit.seq`;
    const parameters = [documents.parameter, model, query.text, toVectorLiteral(query.embedding), limit, headlineOptions(marks)];
    const run = async (manager: EntityManager): Promise<ChunkHitRow[]> => {
      if (index) await this.tuneScan(manager, limit, index.support);
      return manager.query(sql, parameters);
    };
    const rows = index ? await this.dataSource.transaction(run) : await run(this.dataSource.manager);
    return rows.map(toChunkHit);
  }

  /** For this transaction only: enough candidates for `limit`, and an index scan that goes on past filtered-out rows. */
  private async tuneScan(manager: EntityManager, limit: number, support: VectorSupport): Promise<void> {
    await manager.query(`SELECT set_config('hnsw.ef_search', $1, true)`, [String(Math.min(1000, Math.max(40, limit)))]);
    if (!support.iterativeScan) return;
    await manager.query(`SELECT set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.max_scan_tuples', $1, true)`, [String(MAX_SCAN_TUPLES)]);
  }
}

/** pgvector's text form; JavaScript's shortest round-trip numbers keep every float32 exact. */
function toVectorLiteral(embedding: number[]): string {
  return `[${embedding.join(',')}]`;
}
