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
export async function createEmbeddingsTable(query: Query): Promise<boolean> {
  const [state] = (await query(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS available,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS installed`,
  )) as { available: boolean; installed: boolean }[];
  if (!state!.available) return false;
  if (!state!.installed) {
    // Installing needs privileges the role may lack: a failure must not abort the transaction.
    await query('SAVEPOINT create_vector_extension');
    try {
      await query('CREATE EXTENSION IF NOT EXISTS vector');
      await query('RELEASE SAVEPOINT create_vector_extension');
    } catch {
      await query('ROLLBACK TO SAVEPOINT create_vector_extension');
      return false;
    }
  }
  await query(`
    CREATE TABLE IF NOT EXISTS "document_chunk_embeddings" (
      "chunk_id" uuid NOT NULL,
      "model" character varying(200) NOT NULL,
      "embedding" vector,
      "claimed_until" timestamptz,
      CONSTRAINT "document_chunk_embeddings_pkey" PRIMARY KEY ("chunk_id"),
      CONSTRAINT "document_chunk_embeddings_chunk_id_fkey" FOREIGN KEY ("chunk_id") REFERENCES "document_chunks"("id") ON DELETE CASCADE
    )`);
  return true;
}
