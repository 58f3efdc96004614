import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Uploaded documents: metadata, and the original bytes in parts (read back one part at a time). */
export class Documents1795700000000 implements MigrationInterface {
  name = 'Documents1795700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "documents" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "owner_id" uuid NOT NULL,
        "conversation_id" uuid,
        "filename" character varying(255) NOT NULL,
        "media_type" character varying(128) NOT NULL,
        "bytes" integer NOT NULL,
        "status" character varying(16) NOT NULL DEFAULT 'processing',
        "chunks" integer NOT NULL DEFAULT 0,
        "error" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "documents_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "documents_status_check" CHECK ("status" IN ('processing', 'ready', 'failed')),
        CONSTRAINT "documents_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE,
        CONSTRAINT "documents_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "documents_conversation_id_created_at_idx" ON "documents" ("conversation_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "documents_owner_id_created_at_idx" ON "documents" ("owner_id", "created_at", "id")`);
    await queryRunner.query(`
      CREATE TABLE "document_contents" (
        "document_id" uuid NOT NULL,
        "part" integer NOT NULL,
        "data" bytea NOT NULL,
        CONSTRAINT "document_contents_pkey" PRIMARY KEY ("document_id", "part"),
        CONSTRAINT "document_contents_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "document_contents"`);
    await queryRunner.query(`DROP TABLE "documents"`);
  }
}
