import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The text of documents in passages of a few hundred tokens, each with where it came from (page,
 * heading), indexed for full-text search with the configuration messages use.
 */
export class DocumentChunks1795800000000 implements MigrationInterface {
  name = 'DocumentChunks1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "document_chunks" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "document_id" uuid NOT NULL,
        "seq" integer NOT NULL,
        "content" text NOT NULL,
        "page" integer,
        "heading" character varying(500),
        "tokens" integer NOT NULL,
        "search_vector" tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce("heading", '') || ' ' || "content")) STORED,
        CONSTRAINT "document_chunks_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "document_chunks_document_id_seq_key" UNIQUE ("document_id", "seq"),
        CONSTRAINT "document_chunks_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE
      )`);
    // TypeORM compares generated columns with the expression it recorded: without it, it sees drift.
    await queryRunner.query(
      `INSERT INTO "typeorm_metadata" ("database", "schema", "table", "type", "name", "value")
       VALUES (current_database(), current_schema(), 'document_chunks', 'GENERATED_COLUMN', 'search_vector', $1)`,
      [`to_tsvector('english', coalesce("heading", '') || ' ' || "content")`],
    );
    await queryRunner.query(`CREATE INDEX "document_chunks_search_vector_idx" ON "document_chunks" USING GIN ("search_vector")`);
    // Documents still to extract are found at start-up (an instance may have stopped midway).
    await queryRunner.query(`CREATE INDEX "documents_processing_idx" ON "documents" ("created_at") WHERE "status" = 'processing'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "documents_processing_idx"`);
    await queryRunner.query(
      `DELETE FROM "typeorm_metadata" WHERE "type" = 'GENERATED_COLUMN' AND "table" = 'document_chunks' AND "name" = 'search_vector'`,
    );
    await queryRunner.query(`DROP TABLE "document_chunks"`);
  }
}
