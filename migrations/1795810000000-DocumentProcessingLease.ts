import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A document being processed is claimed by one instance for a while (a lease it renews): instances
 * sharing the database never extract the same document twice, and the documents of an instance
 * that stopped or crashed are taken over once its lease has run out.
 */
export class DocumentProcessingLease1795810000000 implements MigrationInterface {
  name = 'DocumentProcessingLease1795810000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "documents" ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "documents" DROP COLUMN "lease_expires_at"`);
  }
}
