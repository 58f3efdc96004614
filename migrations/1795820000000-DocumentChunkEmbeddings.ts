import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createEmbeddingsTable } from '../src/documents/embeddings/embeddings-table.js';

/** Embeddings of document chunks for similarity search, where the server has pgvector. */
export class DocumentChunkEmbeddings1795820000000 implements MigrationInterface {
  name = 'DocumentChunkEmbeddings1795820000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await createEmbeddingsTable((sql, parameters) => queryRunner.query(sql, parameters));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The extension stays: it may have been installed by an administrator, for other uses too.
    await queryRunner.query(`DROP TABLE IF EXISTS "document_chunk_embeddings"`);
  }
}
