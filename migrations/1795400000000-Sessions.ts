import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions as rows of their own, so an access token can be checked against the sign-in it names.
 * Every existing refresh-token family becomes a session (ended when all its tokens were revoked),
 * so tokens issued before this migration keep working; refresh tokens then reference their session.
 */
export class Sessions1795400000000 implements MigrationInterface {
  name = 'Sessions1795400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "sessions" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        "revoked_reason" character varying(32),
        CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id")`);
    await queryRunner.query(`
      INSERT INTO "sessions" ("id", "user_id", "created_at", "revoked_at", "revoked_reason")
      SELECT "family_id", (array_agg("user_id"))[1], min("created_at"),
        CASE WHEN bool_and("revoked_at" IS NOT NULL) THEN max("revoked_at") END,
        CASE WHEN bool_and("revoked_at" IS NOT NULL) THEN 'revoked' END
      FROM "refresh_tokens" GROUP BY "family_id"`);
    await queryRunner.query(`
      ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_family_id_fkey"
        FOREIGN KEY ("family_id") REFERENCES "sessions"("id") ON DELETE CASCADE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "refresh_tokens_family_id_fkey"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
  }
}
