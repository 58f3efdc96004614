import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tools a conversation's agent may use: null (every existing conversation) for every tool the
 * server offers, or a JSON array of tool names and `<prefix>__*` entries.
 */
export class ConversationAgentTools1795910000000 implements MigrationInterface {
  name = 'ConversationAgentTools1795910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" ADD "agent_tools" jsonb`);
    await queryRunner.query(
      `ALTER TABLE "conversations" ADD CONSTRAINT "conversations_agent_tools_check" CHECK ("agent_tools" IS NULL OR jsonb_typeof("agent_tools") = 'array')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" DROP CONSTRAINT "conversations_agent_tools_check"`);
    await queryRunner.query(`ALTER TABLE "conversations" DROP COLUMN "agent_tools"`);
  }
}
