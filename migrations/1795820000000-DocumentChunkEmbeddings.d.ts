import type { MigrationInterface, QueryRunner } from 'typeorm';
type Query = (sql: string, parameters?: unknown[]) => Promise<unknown>;
/**
 * Creates the pgvector extension (unless there) and the embeddings table, or nothing at all where
 * the server has no pgvector to install or the role may not install it: retrieval is then full-text
 * search alone. Run by this migration and again at start-up while embeddings are configured but the
 * table is missing, so that installing pgvector later is enough. Returns whether the table exists.
 *
 * The vector column has no fixed dimensions, so that the model (and with it the dimensions) can
 * change without a migration: each row records the model that made it, and the similarity indexes
 * are partial, one per dimension count, created at start-up (see EmbeddingsRepository).
 * A row without an embedding is a claim (until claimed_until) by the instance embedding that chunk.
 */
export declare function createEmbeddingsTable(query: Query): Promise<boolean>;
/** Embeddings of document chunks for similarity search, where the server has pgvector. */
export declare class DocumentChunkEmbeddings1795820000000 implements MigrationInterface {
    name: string;
    up(queryRunner: QueryRunner): Promise<void>;
    down(queryRunner: QueryRunner): Promise<void>;
}
export {};
