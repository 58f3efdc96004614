import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In, IsNull, type Repository } from 'typeorm';
import { RefreshTokenEntity } from './refresh-token.entity.js';

/** Every query on refresh tokens. Tokens are looked up by the SHA-256 of their value only. */
@Injectable()
export class RefreshTokensRepository {
  private readonly tokens: Repository<RefreshTokenEntity>;

  constructor(dataSource: DataSource) {
    this.tokens = dataSource.getRepository(RefreshTokenEntity);
  }

  private repo(manager?: EntityManager): Repository<RefreshTokenEntity> {
    return manager?.getRepository(RefreshTokenEntity) ?? this.tokens;
  }

  async insert(
    fields: { userId: string; familyId: string; tokenHash: string; expiresAt: Date },
    manager?: EntityManager,
  ): Promise<void> {
    await this.repo(manager).insert(fields);
  }

  /**
   * Marks a live token as used and returns it, in one statement: of several concurrent
   * refreshes with the same token exactly one gets the row.
   */
  async consume(tokenHash: string, manager?: EntityManager): Promise<RefreshTokenEntity | undefined> {
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({ usedAt: () => 'now()' })
      .where('token_hash = :tokenHash', { tokenHash })
      .andWhere('used_at IS NULL AND revoked_at IS NULL AND expires_at > now()')
      .returning('id, user_id, family_id')
      .execute();
    const row = (result.raw as { id: string; user_id: string; family_id: string }[])[0];
    return row ? Object.assign(new RefreshTokenEntity(), { id: row.id, userId: row.user_id, familyId: row.family_id }) : undefined;
  }

  findByHash(tokenHash: string): Promise<RefreshTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }

  async revokeFamilies(familyIds: string[], manager?: EntityManager): Promise<void> {
    if (!familyIds.length) return;
    await this.repo(manager).update({ familyId: In(familyIds), revokedAt: IsNull() }, { revokedAt: () => 'now()' });
  }
}
