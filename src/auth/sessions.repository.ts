import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { SessionEntity } from './session.entity.js';

/** Every query on sessions. */
@Injectable()
export class SessionsRepository {
  private readonly sessions: Repository<SessionEntity>;

  constructor(dataSource: DataSource) {
    this.sessions = dataSource.getRepository(SessionEntity);
  }

  private repo(manager?: EntityManager): Repository<SessionEntity> {
    return manager?.getRepository(SessionEntity) ?? this.sessions;
  }

  async create(userId: string, manager?: EntityManager): Promise<string> {
    const result = await this.repo(manager).insert({ userId });
    return (result.identifiers[0] as { id: string }).id;
  }

  findById(id: string): Promise<Pick<SessionEntity, 'userId' | 'revokedAt' | 'revokedReason'> | null> {
    return this.sessions.findOne({ select: { userId: true, revokedAt: true, revokedReason: true }, where: { id } });
  }

  /**
   * Ends the user's live sessions — the one given, or all of them but `exceptId` — and returns the
   * ids it ended, in one statement (a session already ended is not ended again).
   */
  async revoke(scope: { userId: string; id?: string; exceptId?: string }, reason: string, manager?: EntityManager): Promise<string[]> {
    const query = this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('user_id = :userId AND revoked_at IS NULL', { userId: scope.userId });
    if (scope.id !== undefined) query.andWhere('id = :id', { id: scope.id });
    if (scope.exceptId !== undefined) query.andWhere('id <> :exceptId', { exceptId: scope.exceptId });
    const result = await query.returning('id').execute();
    return (result.raw as { id: string }[]).map((row) => row.id);
  }
}
