import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Feedback on agent replies (one rating per person and reply, counted on the reply itself), the
 * time each run's first text reached clients, the indexes the analytics read by time, and the
 * daily rollups of closed days.
 */
export class FeedbackAndAnalytics1795930000000 implements MigrationInterface {
  name = 'FeedbackAndAnalytics1795930000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" ADD "feedback_up" integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "feedback_down" integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "messages_feedback_check" CHECK ("feedback_up" >= 0 AND "feedback_down" >= 0)`);
    await queryRunner.query(`CREATE INDEX "messages_created_at_idx" ON "messages" ("created_at", "role", "conversation_id", "author_id")`);
    await queryRunner.query(`ALTER TABLE "agent_runs" ADD "first_token_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE INDEX "agent_runs_finished_at_idx" ON "agent_runs" ("finished_at")`);
    await queryRunner.query(`CREATE INDEX "conversations_created_at_idx" ON "conversations" ("created_at")`);
    await queryRunner.query(`
      CREATE TABLE "message_feedback" (
        "message_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "conversation_id" uuid NOT NULL,
        "rating" character varying(8) NOT NULL,
        "comment" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "message_feedback_pkey" PRIMARY KEY ("message_id", "user_id"),
        CONSTRAINT "message_feedback_rating_check" CHECK ("rating" IN ('up', 'down')),
        CONSTRAINT "message_feedback_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE,
        CONSTRAINT "message_feedback_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE,
        CONSTRAINT "message_feedback_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "message_feedback_user_id_idx" ON "message_feedback" ("user_id", "conversation_id")`);
    await queryRunner.query(`CREATE INDEX "message_feedback_updated_at_idx" ON "message_feedback" ("updated_at", "rating")`);
    await queryRunner.query(`
      CREATE TABLE "analytics_days" (
        "day" date NOT NULL,
        "summary" jsonb NOT NULL,
        "author_ids" uuid array NOT NULL,
        "conversation_ids" uuid array NOT NULL,
        "computed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "analytics_days_pkey" PRIMARY KEY ("day")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "analytics_days"`);
    await queryRunner.query(`DROP TABLE "message_feedback"`);
    await queryRunner.query(`DROP INDEX "conversations_created_at_idx"`);
    await queryRunner.query(`DROP INDEX "agent_runs_finished_at_idx"`);
    await queryRunner.query(`ALTER TABLE "agent_runs" DROP COLUMN "first_token_at"`);
    await queryRunner.query(`DROP INDEX "messages_created_at_idx"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "messages_feedback_check"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "feedback_down"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "feedback_up"`);
  }
}
