import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A deleted account keeps no email at all (NULL, which the unique constraint never compares), so
 * no registration can make its erasure collide. Accounts deleted earlier lose their placeholder.
 */
export class ErasedAccountsHaveNoEmail1795300000000 implements MigrationInterface {
  name = 'ErasedAccountsHaveNoEmail1795300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "email" DROP NOT NULL`);
    await queryRunner.query(`UPDATE "users" SET "email" = NULL, "password_hash" = NULL, "display_name" = 'Deleted user' WHERE "deleted_at" IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`UPDATE "users" SET "email" = 'deleted-' || "id" || '@deleted.invalid' WHERE "email" IS NULL`);
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL`);
  }
}
