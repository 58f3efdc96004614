import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Durable approvals: a run can wait for a person's decision (status awaiting_approval), keeping
 * its loop's state in the row so that any instance resumes it, and each call waiting for a
 * decision is an approval.
 */
export class Approvals1795920000000 implements MigrationInterface {
  name = 'Approvals1795920000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "agent_runs" DROP CONSTRAINT "agent_runs_status_check"`);
    await queryRunner.query(`ALTER TABLE "agent_runs" ALTER COLUMN "status" TYPE character varying(32)`);
    await queryRunner.query(
      `ALTER TABLE "agent_runs" ADD CONSTRAINT "agent_runs_status_check" CHECK ("status" IN ('queued', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'interrupted'))`,
    );
    await queryRunner.query(`ALTER TABLE "agent_runs" ADD "loop_state" jsonb`);
    await queryRunner.query(`
      CREATE TABLE "approvals" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "run_id" uuid NOT NULL,
        "conversation_id" uuid NOT NULL,
        "step" integer NOT NULL,
        "tool_call_id" character varying(100) NOT NULL,
        "tool_name" character varying(64) NOT NULL,
        "input" jsonb NOT NULL DEFAULT '{}',
        "status" character varying(16) NOT NULL DEFAULT 'pending',
        "requested_by_id" uuid,
        "decided_by_id" uuid,
        "decided_at" TIMESTAMP WITH TIME ZONE,
        "reason" character varying(500),
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "approvals_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "approvals_status_check" CHECK ("status" IN ('pending', 'approved', 'denied', 'expired')),
        CONSTRAINT "approvals_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "agent_runs"("id") ON DELETE CASCADE,
        CONSTRAINT "approvals_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE,
        CONSTRAINT "approvals_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "users"("id") ON DELETE SET NULL,
        CONSTRAINT "approvals_decided_by_id_fkey" FOREIGN KEY ("decided_by_id") REFERENCES "users"("id") ON DELETE SET NULL
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "approvals_run_id_step_tool_call_id_key" ON "approvals" ("run_id", "step", "tool_call_id")`);
    await queryRunner.query(`CREATE INDEX "approvals_conversation_id_idx" ON "approvals" ("conversation_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "approvals_expires_at_idx" ON "approvals" ("expires_at") WHERE "status" = 'pending'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "approvals"`);
    await queryRunner.query(`ALTER TABLE "agent_runs" DROP COLUMN "loop_state"`);
    await queryRunner.query(`UPDATE "agent_runs" SET "status" = 'cancelled', "finished_at" = now() WHERE "status" = 'awaiting_approval'`);
    await queryRunner.query(`ALTER TABLE "agent_runs" DROP CONSTRAINT "agent_runs_status_check"`);
    await queryRunner.query(`ALTER TABLE "agent_runs" ALTER COLUMN "status" TYPE character varying(16)`);
    await queryRunner.query(
      `ALTER TABLE "agent_runs" ADD CONSTRAINT "agent_runs_status_check" CHECK ("status" IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'))`,
    );
  }
}
