import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';

export interface RedeemedTicket {
  sessionId: string;
  userId: string;
  /** When the access token that asked for the ticket expires. */
  accessExpiresAt: Date;
}

/** Every query on stream tickets. Tickets are found by the SHA-256 of their value only. */
@Injectable()
export class StreamTicketsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores a ticket that expires `ttlSeconds` from now by the database's clock, which every instance shares. */
  async insert(fields: { tokenHash: string; sessionId: string; userId: string; ttlSeconds: number; accessExpiresAt: Date }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO stream_tickets (token_hash, session_id, user_id, expires_at, access_expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)`,
      [fields.tokenHash, fields.sessionId, fields.userId, fields.ttlSeconds, fields.accessExpiresAt],
    );
  }

  /**
   * Deletes a live ticket and returns what it was bound to, in one statement: of concurrent uses
   * of one ticket, on any instance, exactly one gets the row.
   */
  async redeem(tokenHash: string): Promise<RedeemedTicket | undefined> {
    const result: unknown = await this.dataSource.query(
      `DELETE FROM stream_tickets WHERE token_hash = $1 AND expires_at > now() RETURNING session_id, user_id, access_expires_at`,
      [tokenHash],
    );
    const row = rowsOf<{ session_id: string; user_id: string; access_expires_at: Date }>(result)[0];
    return row && { sessionId: row.session_id, userId: row.user_id, accessExpiresAt: new Date(row.access_expires_at) };
  }

  /** Deletes the tickets that expired unused. */
  async deleteExpired(): Promise<void> {
    await this.dataSource.query(`DELETE FROM stream_tickets WHERE expires_at <= now()`);
  }
}
