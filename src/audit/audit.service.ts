import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { isTimeIdPosition, type TimeIdPosition } from '../common/pagination/time-id-position.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import type { AuditAction, AuditTargetType } from './audit-actions.js';
import type { AuditDetails } from './audit-event.entity.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditEventDto, type AuditEventPageDto, type ListAuditEventsQuery } from './dto/audit.dto.js';

export interface AuditRecord {
  action: AuditAction;
  actorId: string | null;
  target?: { type: AuditTargetType; id: string };
  conversationId?: string;
  /** Ids, roles and reasons only: never a password, token or key, nor anything the user wrote. */
  details?: AuditDetails;
  request?: RequestMeta;
}

/** Writes the audit trail and reads it back for administrators. */
@Injectable()
export class AuditService {
  constructor(private readonly events: AuditEventsRepository) {}

  /**
   * Records an event. Given the transaction of the action it records, it commits with the action
   * or not at all: an action that failed leaves no event, and one that happened always leaves one.
   */
  record(event: AuditRecord, manager?: EntityManager): Promise<void> {
    return this.events.insert(
      {
        // Milliseconds, set here: the cursor carries `at` as a JavaScript date, which has no microseconds.
        at: new Date(),
        action: event.action,
        actorId: event.actorId,
        targetType: event.target?.type ?? null,
        targetId: event.target?.id ?? null,
        conversationId: event.conversationId ?? null,
        ip: event.request?.ip?.slice(0, 64) ?? null,
        requestId: event.request?.requestId?.slice(0, 128) ?? null,
        details: event.details ?? {},
      },
      manager,
    );
  }

  /** Blanks the client address of every event the user did (in the transaction of their erasure). */
  forgetAddresses(actorId: string, manager: EntityManager): Promise<void> {
    return this.events.blankAddresses(actorId, manager);
  }

  async list(query: ListAuditEventsQuery): Promise<AuditEventPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeCursor<TimeIdPosition>(query.cursor, isTimeIdPosition);
    const rows = await this.events.page({
      actorId: query.actorId,
      action: query.action,
      after: after && { at: after[0], id: after[1] },
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((row) => AuditEventDto.from(row)),
      nextCursor: rows.length > limit && last ? encodeCursor([last.at.toISOString(), last.id]) : null,
    };
  }
}
