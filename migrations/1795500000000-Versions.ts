import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every conversation counts its changes (`version`), and every message records the version of its
 * last change, so that a client can catch up on edits, deletions and finished replies — not only
 * on messages created since it left. Existing messages take their seq (each one was created at
 * that point and nothing older can be told apart), and each conversation its highest.
 */
export class Versions1795500000000 implements MigrationInterface {
  name = 'Versions1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" ADD "version" bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "version" bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(`UPDATE "messages" SET "version" = "seq"`);
    await queryRunner.query(`UPDATE "conversations" SET "version" = "last_seq"`);
    await queryRunner.query(`CREATE INDEX "messages_conversation_id_version_idx" ON "messages" ("conversation_id", "version")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "messages_conversation_id_version_idx"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "version"`);
    await queryRunner.query(`ALTER TABLE "conversations" DROP COLUMN "version"`);
  }
}
