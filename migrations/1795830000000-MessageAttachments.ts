import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The documents a message carries, as they were when it was sent (id, name, type, size): a
 * document deleted later leaves its entry, so the message still says what it carried.
 */
export class MessageAttachments1795830000000 implements MigrationInterface {
  name = 'MessageAttachments1795830000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" ADD "attachments" jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "attachments"`);
  }
}
