import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';
import type { FeedbackRating } from './message-feedback.entity.js';

export interface FeedbackRecord {
  messageId: string;
  conversationId: string;
  userId: string;
  rating: FeedbackRating;
  comment: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `message_id AS "messageId", conversation_id AS "conversationId", user_id AS "userId", rating, comment,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Every query on message_feedback (the reply's counts are the messages repository's). */
@Injectable()
export class FeedbackRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(messageId: string, userId: string, manager: EntityManager = this.dataSource.manager): Promise<FeedbackRecord | undefined> {
    const [row] = rowsOf<FeedbackRecord>(
      await manager.query(`SELECT ${COLUMNS} FROM message_feedback WHERE message_id = $1 AND user_id = $2`, [messageId, userId]),
    );
    return row;
  }

  /** Stores the rating, replacing the user's earlier one of the reply. */
  async save(fields: Omit<FeedbackRecord, 'createdAt' | 'updatedAt'>, manager: EntityManager): Promise<FeedbackRecord> {
    const [row] = rowsOf<FeedbackRecord>(
      await manager.query(
        `INSERT INTO message_feedback (message_id, conversation_id, user_id, rating, comment) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (message_id, user_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = now()
         RETURNING ${COLUMNS}`,
        [fields.messageId, fields.conversationId, fields.userId, fields.rating, fields.comment],
      ),
    );
    return row!;
  }

  /** Replaces the comment of a rating that is still `rating` (nobody else sees it change); undefined otherwise. */
  async saveComment(messageId: string, userId: string, rating: FeedbackRating, comment: string | null): Promise<FeedbackRecord | undefined> {
    const [row] = rowsOf<FeedbackRecord>(
      await this.dataSource.query(
        `UPDATE message_feedback SET comment = $4, updated_at = now() WHERE message_id = $1 AND user_id = $2 AND rating = $3 RETURNING ${COLUMNS}`,
        [messageId, userId, rating, comment],
      ),
    );
    return row;
  }

  /** Removes the user's rating of the reply; the rating it was, or undefined if there was none. */
  async remove(messageId: string, userId: string, manager: EntityManager): Promise<FeedbackRating | undefined> {
    const [row] = rowsOf<{ rating: FeedbackRating }>(
      await manager.query(`DELETE FROM message_feedback WHERE message_id = $1 AND user_id = $2 RETURNING rating`, [messageId, userId]),
    );
    return row?.rating;
  }

  /** Erases every comment the user wrote (account erasure). */
  async forgetComments(userId: string, manager: EntityManager): Promise<void> {
    await manager.query(`UPDATE message_feedback SET comment = NULL WHERE user_id = $1 AND comment IS NOT NULL`, [userId]);
  }

  /** The user's ratings in a conversation, ascending by the reply's seq, after `afterSeq`. */
  async listMine(userId: string, conversationId: string, afterSeq: number, limit: number): Promise<(FeedbackRecord & { seq: number })[]> {
    return this.dataSource.query(
      `SELECT f.message_id AS "messageId", f.conversation_id AS "conversationId", f.user_id AS "userId", f.rating, f.comment,
              f.created_at AS "createdAt", f.updated_at AS "updatedAt", m.seq
       FROM message_feedback f JOIN messages m ON m.id = f.message_id
       WHERE f.user_id = $1 AND f.conversation_id = $2 AND m.seq > $3
       ORDER BY m.seq LIMIT $4`,
      [userId, conversationId, afterSeq, limit],
    );
  }

  /** Every rating, most recently changed first, by keyset on (updated_at, message_id, user_id). */
  async list(
    filter: { rating?: FeedbackRating; conversationId?: string },
    limit: number,
    before?: { updatedAt: string; messageId: string; userId: string },
  ): Promise<(FeedbackRecord & { position: string })[]> {
    // The keyset position keeps the microseconds a JavaScript date would drop.
    return this.dataSource.query(
      `SELECT ${COLUMNS}, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position FROM message_feedback
       WHERE ($1::varchar IS NULL OR rating = $1) AND ($2::uuid IS NULL OR conversation_id = $2)
         AND ($3::timestamptz IS NULL OR (updated_at, message_id, user_id) < ($3::timestamptz, $4::uuid, $5::uuid))
       ORDER BY updated_at DESC, message_id DESC, user_id DESC LIMIT $6`,
      [filter.rating ?? null, filter.conversationId ?? null, before?.updatedAt ?? null, before?.messageId ?? null, before?.userId ?? null, limit],
    );
  }
}
