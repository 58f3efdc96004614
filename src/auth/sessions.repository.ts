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
   * Whether the session is live, holding a share lock on its row until the transaction ends.
   * The lock lets concurrent refreshes of the session through but conflicts with ending it
   * (revoke's UPDATE): whichever comes second sees what the first did.
   */
  async lockLive(id: string, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(`SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL FOR SHARE`, [id]);
    return rows.length > 0;
  }

  /** Which of the given sessions have ended, with whose they are and why. */
  async findEnded(ids: string[]): Promise<{ id: string; userId: string; reason: string | null }[]> {
    if (!ids.length) return [];
    const rows: { id: string; user_id: string; revoked_reason: string | null }[] = await this.sessions.query(
      `SELECT id, user_id, revoked_reason FROM sessions WHERE id = ANY($1::uuid[]) AND revoked_at IS NOT NULL`,
      [ids],
    );
    return rows.map((row) => ({ id: row.id, userId: row.user_id, reason: row.revoked_reason }));
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
