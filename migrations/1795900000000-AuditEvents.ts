import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The audit trail: sign-ins, sign-outs, account, role and participant changes. */
export class AuditEvents1795900000000 implements MigrationInterface {
  name = 'AuditEvents1795900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_events" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "actor_id" uuid,
        "action" character varying(64) NOT NULL,
        "target_type" character varying(32),
        "target_id" uuid,
        "conversation_id" uuid,
        "ip" character varying(64),
        "request_id" character varying(128),
        "details" jsonb NOT NULL DEFAULT '{}',
        CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "audit_events_actor_id_fkey" FOREIGN KEY ("actor_id") REFERENCES "users"("id") ON DELETE SET NULL
      )`);
    await queryRunner.query(`CREATE INDEX "audit_events_at_id_idx" ON "audit_events" ("at", "id")`);
    await queryRunner.query(`CREATE INDEX "audit_events_actor_id_at_id_idx" ON "audit_events" ("actor_id", "at", "id")`);
    await queryRunner.query(`CREATE INDEX "audit_events_action_at_id_idx" ON "audit_events" ("action", "at", "id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_events"`);
  }
}
