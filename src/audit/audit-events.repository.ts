import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull, Not, type Repository } from 'typeorm';
import type { AuditAction } from './audit-actions.js';
import { AuditEventEntity } from './audit-event.entity.js';

export type NewAuditEvent = Omit<AuditEventEntity, 'id' | 'actor'>;

export interface AuditFilter {
  actorId?: string;
  action?: AuditAction;
  /** The last event of the previous page: only older ones (by at, then id) follow. */
  after?: { at: string; id: string };
  limit: number;
}

/** Every query on audit_events. */
@Injectable()
export class AuditEventsRepository {
  private readonly events: Repository<AuditEventEntity>;

  constructor(dataSource: DataSource) {
    this.events = dataSource.getRepository(AuditEventEntity);
  }

  async insert(event: NewAuditEvent, manager?: EntityManager): Promise<void> {
    await (manager?.getRepository(AuditEventEntity) ?? this.events).insert(event);
  }

  async blankAddresses(actorId: string, manager: EntityManager): Promise<void> {
    await manager.getRepository(AuditEventEntity).update({ actorId, ip: Not(IsNull()) }, { ip: null });
  }

  /** Newest first; the filters and the keyset each use one of the table's indexes. */
  page({ actorId, action, after, limit }: AuditFilter): Promise<AuditEventEntity[]> {
    const query = this.events.createQueryBuilder('e').orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').limit(limit);
    if (actorId !== undefined) query.andWhere('e.actor_id = :actorId', { actorId });
    if (action !== undefined) query.andWhere('e.action = :action', { action });
    if (after) query.andWhere('(e.at, e.id) < (:at::timestamptz, :id::uuid)', { at: after.at, id: after.id });
    return query.getMany();
  }
}
