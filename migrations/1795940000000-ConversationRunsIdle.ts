import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whether a conversation has no run that is queued, running or waiting for approvals: what a
 * message's run needs to know to start at once, asked from within the statement that stores the
 * message. PL/pgSQL and VOLATILE on purpose: such a function reads with a snapshot of its own,
 * taken when it is called — after the statement has locked the conversation row — rather than the
 * statement's, taken before it waited for that lock. Every run that becomes active does so under
 * that lock, so the answer cannot be out of date while the lock is held.
 */
export class ConversationRunsIdle1795940000000 implements MigrationInterface {
  name = 'ConversationRunsIdle1795940000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "conversation_runs_idle"("conversation" uuid) RETURNS boolean
      LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        RETURN NOT EXISTS (
          SELECT 1 FROM agent_runs WHERE conversation_id = "conversation" AND status IN ('queued', 'running', 'awaiting_approval')
        );
      END
      $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION "conversation_runs_idle"(uuid)`);
  }
}
