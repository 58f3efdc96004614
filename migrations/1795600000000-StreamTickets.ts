import type { MigrationInterface, QueryRunner } from 'typeorm';

/** One-time tickets that let an EventSource (no headers) open an SSE stream for a session. */
export class StreamTickets1795600000000 implements MigrationInterface {
  name = 'StreamTickets1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "stream_tickets" (
        "token_hash" character varying(64) NOT NULL,
        "session_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "access_expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "stream_tickets_pkey" PRIMARY KEY ("token_hash"),
        CONSTRAINT "stream_tickets_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "stream_tickets_expires_at_idx" ON "stream_tickets" ("expires_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "stream_tickets"`);
  }
}
