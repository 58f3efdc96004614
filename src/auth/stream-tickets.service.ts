import { HttpStatus, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { RateLimiter } from '../realtime/rate-limiter.js';
import { AccessTokenService, unauthorized } from './access-token.service.js';
import type { StreamTicketDto } from './dto/stream-ticket.dto.js';
import { hashOpaqueToken, newOpaqueToken, OPAQUE_TOKEN_FORMAT } from './opaque-token.js';
import { StreamTicketsRepository } from './stream-tickets.repository.js';

/** How often each instance deletes the tickets that expired unused. */
const SWEEP_INTERVAL_MS = 60_000;
const RATE_WINDOW_MS = 60_000;

export function ticketInvalid(): AppError {
  return new AppError(
    HttpStatus.UNAUTHORIZED,
    'TICKET_INVALID',
    'The stream ticket is malformed, expired or already used; ask for a new one (POST /api/v1/auth/stream-ticket)',
  );
}

/**
 * Stream tickets stand in for the access token where a browser cannot send it: an EventSource
 * has no headers. A ticket ends up in a URL, and URLs reach proxy logs and browser history, so it
 * is worth nothing once used or after a minute. It speaks for exactly the session that asked for
 * it: the stream it opens is bound to that session and ends when the access token that asked for
 * it would have expired — a ticket never outlives the token it was exchanged for.
 */
@Injectable()
export class StreamTicketsService implements OnModuleInit, OnModuleDestroy {
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tickets: StreamTicketsRepository,
    private readonly accessTokens: AccessTokenService,
    private readonly rateLimiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // Used tickets are deleted by their use; this is for the ones never used. Losing a round is harmless.
    this.sweepTimer = setInterval(() => void this.tickets.deleteExpired().catch(() => undefined), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  async issue(user: AuthUser): Promise<StreamTicketDto> {
    const { streamTicketTtlSeconds, streamTicketRateLimitPerMinute } = this.config.auth;
    await this.rateLimiter.take(`stream-ticket:${user.id}`, streamTicketRateLimitPerMinute, RATE_WINDOW_MS, 'Too many stream tickets, try again later');
    const expiresIn = Math.min(streamTicketTtlSeconds, Math.floor((user.expiresAt - Date.now()) / 1000));
    // The token is about to expire: a ticket for less than a second would be refused anyway.
    if (expiresIn < 1) throw unauthorized();
    const ticket = newOpaqueToken();
    await this.tickets.insert({
      tokenHash: hashOpaqueToken(ticket),
      sessionId: user.sessionId,
      userId: user.id,
      ttlSeconds: expiresIn,
      accessExpiresAt: new Date(user.expiresAt),
    });
    return { ticket, expiresIn };
  }

  /**
   * The caller a ticket speaks for, spending it. The session and the account are checked as for
   * an access token: a ticket of a session that has ended is refused (401 SESSION_REVOKED).
   */
  async redeem(ticket: unknown): Promise<AuthUser> {
    if (typeof ticket !== 'string' || !OPAQUE_TOKEN_FORMAT.test(ticket)) throw ticketInvalid();
    const redeemed = await this.tickets.redeem(hashOpaqueToken(ticket));
    if (!redeemed) throw ticketInvalid();
    return this.accessTokens.userFromClaims({
      sub: redeemed.userId,
      sid: redeemed.sessionId,
      exp: Math.floor(redeemed.accessExpiresAt.getTime() / 1000),
    });
  }
}
