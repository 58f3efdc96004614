import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A streaming reply's checkpoint records which deltas its stored text covers, so that the text
 * read back (when the instance executing the run cannot be asked) comes with an index that agrees.
 */
export class ReplyStreamIndex1795450000000 implements MigrationInterface {
  name = 'ReplyStreamIndex1795450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" ADD "stream_index" integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "stream_index"`);
  }
}
