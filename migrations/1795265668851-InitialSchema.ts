import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole data model: users and their refresh tokens, conversations with participants,
 * messages (gap-free per-conversation seq, idempotency key, full-text search), agent runs and
 * tool invocations. Entities mirror this file; `npm run migration:generate` reports no drift.
 */
export class InitialSchema1795265668851 implements MigrationInterface {
  name = 'InitialSchema1795265668851';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "email" character varying(254) NOT NULL,
        "display_name" character varying(80) NOT NULL,
        "password_hash" text,
        "role" character varying(16) NOT NULL DEFAULT 'user',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "deleted_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "users_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "users_email_key" UNIQUE ("email"),
        CONSTRAINT "users_role_check" CHECK ("role" IN ('user', 'admin'))
      )`);

    await queryRunner.query(`
      CREATE TABLE "refresh_tokens" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "family_id" uuid NOT NULL,
        "token_hash" character varying(64) NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "used_at" TIMESTAMP WITH TIME ZONE,
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "refresh_tokens_token_hash_key" UNIQUE ("token_hash"),
        CONSTRAINT "refresh_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "refresh_tokens_user_id_idx" ON "refresh_tokens" ("user_id")`);
    await queryRunner.query(`CREATE INDEX "refresh_tokens_family_id_idx" ON "refresh_tokens" ("family_id")`);

    await queryRunner.query(`
      CREATE TABLE "conversations" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "owner_id" uuid NOT NULL,
        "title" character varying(200) NOT NULL DEFAULT '',
        "agent_mode" character varying(16) NOT NULL DEFAULT 'auto',
        "agent_provider" character varying(32),
        "agent_model" character varying(200),
        "agent_system_prompt" text,
        "summary" text,
        "summary_seq" integer NOT NULL DEFAULT 0,
        "last_seq" integer NOT NULL DEFAULT 0,
        "last_message_at" TIMESTAMP WITH TIME ZONE,
        "last_activity_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "deleted_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "conversations_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "conversations_agent_mode_check" CHECK ("agent_mode" IN ('auto', 'mention', 'off')),
        CONSTRAINT "conversations_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE RESTRICT
      )`);
    await queryRunner.query(`CREATE INDEX "conversations_owner_id_idx" ON "conversations" ("owner_id")`);
    await queryRunner.query(
      `CREATE INDEX "conversations_last_activity_idx" ON "conversations" ("last_activity_at", "id")`,
    );

    await queryRunner.query(`
      CREATE TABLE "conversation_participants" (
        "conversation_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "role" character varying(16) NOT NULL,
        "last_read_seq" integer NOT NULL DEFAULT 0,
        "pinned" boolean NOT NULL DEFAULT false,
        "archived" boolean NOT NULL DEFAULT false,
        "joined_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "conversation_participants_pkey" PRIMARY KEY ("conversation_id", "user_id"),
        CONSTRAINT "conversation_participants_role_check" CHECK ("role" IN ('owner', 'member', 'viewer')),
        CONSTRAINT "conversation_participants_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE,
        CONSTRAINT "conversation_participants_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE INDEX "conversation_participants_user_id_idx" ON "conversation_participants" ("user_id")`,
    );

    await queryRunner.query(`
      CREATE TABLE "messages" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "conversation_id" uuid NOT NULL,
        "seq" integer NOT NULL,
        "role" character varying(16) NOT NULL,
        "author_id" uuid,
        "content" text NOT NULL,
        "status" character varying(16) NOT NULL DEFAULT 'complete',
        "client_message_id" character varying(100),
        "run_id" uuid,
        "metadata" jsonb NOT NULL DEFAULT '{}',
        "search_vector" tsvector GENERATED ALWAYS AS (to_tsvector('english', "content")) STORED,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "edited_at" TIMESTAMP WITH TIME ZONE,
        "deleted_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "messages_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "messages_conversation_id_seq_key" UNIQUE ("conversation_id", "seq"),
        CONSTRAINT "messages_role_check" CHECK ("role" IN ('user', 'assistant', 'system', 'tool')),
        CONSTRAINT "messages_status_check" CHECK ("status" IN ('complete', 'streaming', 'failed', 'cancelled', 'interrupted')),
        CONSTRAINT "messages_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE,
        CONSTRAINT "messages_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users"("id") ON DELETE SET NULL
      )`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "messages_client_message_id_key" ON "messages" ("conversation_id", "author_id", "client_message_id")
      WHERE "client_message_id" IS NOT NULL`);
    // TypeORM keeps the expression of generated columns here to compare them with the entities.
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS "typeorm_metadata" (
        "type" character varying NOT NULL,
        "database" character varying,
        "schema" character varying,
        "table" character varying,
        "name" character varying,
        "value" text
      )`);
    await queryRunner.query(`
      INSERT INTO "typeorm_metadata" ("database", "schema", "table", "type", "name", "value")
      VALUES (current_database(), current_schema(), 'messages', 'GENERATED_COLUMN', 'search_vector', $1)`,
      [`to_tsvector('english', "content")`],
    );
    await queryRunner.query(`CREATE INDEX "messages_author_id_idx" ON "messages" ("author_id")`);
    await queryRunner.query(`CREATE INDEX "messages_search_vector_idx" ON "messages" USING GIN ("search_vector")`);

    await queryRunner.query(`
      CREATE TABLE "agent_runs" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "conversation_id" uuid NOT NULL,
        "trigger_message_id" uuid NOT NULL,
        "response_message_id" uuid,
        "requested_by_id" uuid,
        "status" character varying(16) NOT NULL DEFAULT 'queued',
        "provider" character varying(32) NOT NULL,
        "model" character varying(200) NOT NULL,
        "usage" jsonb,
        "error" jsonb,
        "instance_id" character varying(64),
        "heartbeat_at" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "started_at" TIMESTAMP WITH TIME ZONE,
        "finished_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "agent_runs_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "agent_runs_status_check" CHECK ("status" IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
        CONSTRAINT "agent_runs_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE,
        CONSTRAINT "agent_runs_trigger_message_id_fkey" FOREIGN KEY ("trigger_message_id") REFERENCES "messages"("id") ON DELETE CASCADE,
        CONSTRAINT "agent_runs_response_message_id_fkey" FOREIGN KEY ("response_message_id") REFERENCES "messages"("id") ON DELETE SET NULL,
        CONSTRAINT "agent_runs_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "users"("id") ON DELETE SET NULL
      )`);
    await queryRunner.query(`CREATE INDEX "agent_runs_conversation_id_idx" ON "agent_runs" ("conversation_id", "created_at")`);
    await queryRunner.query(`CREATE INDEX "agent_runs_requested_by_idx" ON "agent_runs" ("requested_by_id", "created_at")`);
    await queryRunner.query(
      `CREATE INDEX "agent_runs_active_idx" ON "agent_runs" ("status", "heartbeat_at") WHERE "status" IN ('queued', 'running')`,
    );
    await queryRunner.query(`CREATE INDEX "agent_runs_trigger_message_id_idx" ON "agent_runs" ("trigger_message_id")`);

    await queryRunner.query(`
      CREATE TABLE "tool_invocations" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "run_id" uuid NOT NULL,
        "call_id" character varying(100) NOT NULL,
        "name" character varying(64) NOT NULL,
        "arguments" jsonb NOT NULL DEFAULT '{}',
        "result" jsonb,
        "status" character varying(16) NOT NULL DEFAULT 'started',
        "error" text,
        "started_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "finished_at" TIMESTAMP WITH TIME ZONE,
        "duration_ms" integer,
        CONSTRAINT "tool_invocations_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "tool_invocations_status_check" CHECK ("status" IN ('started', 'completed', 'failed')),
        CONSTRAINT "tool_invocations_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "agent_runs"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "tool_invocations_run_id_idx" ON "tool_invocations" ("run_id", "started_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DELETE FROM "typeorm_metadata" WHERE "type" = 'GENERATED_COLUMN' AND "table" = 'messages' AND "name" = 'search_vector'`,
    );
    for (const table of [
      'tool_invocations',
      'agent_runs',
      'messages',
      'conversation_participants',
      'conversations',
      'refresh_tokens',
      'users',
    ]) {
      await queryRunner.query(`DROP TABLE "${table}"`);
    }
  }
}
