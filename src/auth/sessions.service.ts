import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { DataSource, type EntityManager } from 'typeorm';
import type { SessionEndReason } from '../common/auth/auth-user.js';
import { TtlCache } from '../common/cache/ttl-cache.js';
import { AppConfig } from '../config/app-config.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { SessionWatch } from '../realtime/session-watch.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * How long an instance trusts a session it found live without asking the database again. This is
 * the bound on a revocation whose bus event was lost; normally the event ends it at once.
 */
const LIVE_CACHE_MS = 1000;
const CACHE_MAX = 10_000;
/** Sessions checked per query by the sweep. */
const SWEEP_BATCH = 1000;

type RevocationScope = { userId: string; id?: string; exceptId?: string };

/** The sessions a revocation ended, and its announcement, to call once it committed. */
export interface Revocation {
  sessionIds: string[];
  announce: () => void;
}

type SessionState = { status: 'live' } | { status: 'ended'; reason: string } | { status: 'unknown' };

/**
 * Sessions are rows of their own rather than inferred from refresh tokens: a token family can be
 * spent or expired while its access tokens are still in use, and "ended, and why" must be one
 * fact every instance reads the same way.
 *
 * Ending a session revokes its refresh tokens in the same transaction, then publishes
 * `session.revoked` on the realtime bus: every instance (this one included) forgets what it
 * cached, refuses the session's access tokens, and closes its sockets and SSE streams.
 */
@Injectable()
export class SessionsService implements OnModuleInit, OnModuleDestroy {
  /** Whose each session found live is. */
  private readonly live = new TtlCache<string, string>({ ttlMs: LIVE_CACHE_MS, maxEntries: CACHE_MAX });
  /** Ended sessions seen here; ending is final, so these never go stale (only evicted for room). */
  private readonly ended = new Map<string, { userId: string; reason: SessionEndReason }>();
  /** Reads of a session under way: the checks that arrive meanwhile (a reconnect storm) share them. */
  private readonly reading = new Map<string, ReturnType<SessionsRepository['findById']>>();
  private subscription: Subscription | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sessions: SessionsRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly bus: RealtimeBus,
    private readonly watch: SessionWatch,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$.subscribe((event) => {
      if (event.type !== 'session.revoked') return;
      for (const id of event.sessionIds) this.rememberEnded(id, event.userId, event.reason);
    });
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.auth.sessionCheckIntervalMs);
    this.sweepTimer.unref();
    this.watch.onWatch((sessionId) => this.checkSoon(sessionId));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    clearInterval(this.sweepTimer);
  }

  /**
   * Checks the sessions of this instance's open sockets and SSE streams against the database and
   * announces those that ended without this instance hearing of it (an event lost while Redis was
   * down). Announcing again is harmless: ending is final.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const ids = this.watch.sessionIds;
      for (let start = 0; start < ids.length; start += SWEEP_BATCH) {
        for (const ended of await this.sessions.findEnded(ids.slice(start, start + SWEEP_BATCH))) {
          const reason = (ended.reason ?? 'revoked') as SessionEndReason;
          this.rememberEnded(ended.id, ended.userId, reason);
          this.bus.publish({ type: 'session.revoked', userId: ended.userId, sessionIds: [ended.id], reason });
        }
      }
    } catch {
      // The database is unreachable: the next sweep tries again.
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * A connection that just opened is checked again once it is set up: an end announced here
   * while it was being set up (after its authentication) found nothing to close. An end whose
   * announcement never arrived is the sweep's.
   */
  private checkSoon(sessionId: string): void {
    setImmediate(() => {
      const known = this.ended.get(sessionId);
      if (known) this.bus.publish({ type: 'session.revoked', userId: known.userId, sessionIds: [sessionId], reason: known.reason });
    });
  }

  start(userId: string, manager?: EntityManager): Promise<string> {
    return this.sessions.create(userId, manager);
  }

  /** Ends one session of the user (a no-op when it is not theirs or already ended). */
  end(userId: string, sessionId: string, reason: SessionEndReason): Promise<void> {
    return this.revoke({ userId, id: sessionId }, reason);
  }

  /** Ends every session of the user, or every one but `exceptSessionId`. */
  endAll(userId: string, reason: SessionEndReason, exceptSessionId?: string): Promise<void> {
    return this.revoke({ userId, exceptId: exceptSessionId }, reason);
  }

  /**
   * endAll as part of the caller's transaction, so that the change that ends the sessions (a new
   * password) commits with their end or not at all. Call the returned function once it committed.
   */
  async endAllWithin(manager: EntityManager, userId: string, reason: SessionEndReason, exceptSessionId?: string): Promise<() => void> {
    return (await this.revokeWithin(manager, { userId, exceptId: exceptSessionId }, reason)).announce;
  }

  /**
   * Ends one session of the user (`sessionId`) or all of them, in the caller's transaction (with
   * its audit record). Returns the sessions it ended, and the announcement for after the commit.
   */
  endWithin(manager: EntityManager, userId: string, reason: SessionEndReason, sessionId?: string): Promise<Revocation> {
    return this.revokeWithin(manager, { userId, id: sessionId }, reason);
  }

  /** Whether a token's `sid` is a live session of its `sub`: cached for at most LIVE_CACHE_MS. */
  async state(userId: string, sessionId: string): Promise<SessionState> {
    const known = this.ended.get(sessionId);
    if (known !== undefined) return { status: 'ended', reason: known.reason };
    const owner = this.live.get(sessionId);
    if (owner !== undefined) return owner === userId ? { status: 'live' } : { status: 'unknown' };
    const session = await this.read(sessionId);
    if (!session || session.userId !== userId) return { status: 'unknown' };
    if (session.revokedAt) {
      this.rememberEnded(sessionId, session.userId, (session.revokedReason ?? 'revoked') as SessionEndReason);
      return { status: 'ended', reason: session.revokedReason ?? 'revoked' };
    }
    // A revocation announced while the row was being read wins over what was read.
    const endedMeanwhile = this.ended.get(sessionId);
    if (endedMeanwhile !== undefined) return { status: 'ended', reason: endedMeanwhile.reason };
    this.live.set(sessionId, userId);
    return { status: 'live' };
  }

  private read(sessionId: string): ReturnType<SessionsRepository['findById']> {
    const pending = this.reading.get(sessionId);
    if (pending) return pending;
    const read = this.sessions.findById(sessionId).finally(() => this.reading.delete(sessionId));
    this.reading.set(sessionId, read);
    return read;
  }

  private async revoke(scope: RevocationScope, reason: SessionEndReason): Promise<void> {
    const { announce } = await this.dataSource.transaction((manager) => this.revokeWithin(manager, scope, reason));
    announce();
  }

  /** Ends the sessions with their refresh tokens; returns the announcement, for after the commit. */
  private async revokeWithin(manager: EntityManager, scope: RevocationScope, reason: SessionEndReason): Promise<Revocation> {
    const sessionIds = await this.sessions.revoke(scope, reason, manager);
    await this.refreshTokens.revokeFamilies(sessionIds, manager);
    // Published after the commit: an instance that re-reads on the event already sees the end.
    const announce = () => {
      if (sessionIds.length) this.bus.publish({ type: 'session.revoked', userId: scope.userId, sessionIds, reason });
    };
    return { sessionIds, announce };
  }

  private rememberEnded(sessionId: string, userId: string, reason: SessionEndReason): void {
    this.live.invalidate(sessionId);
    if (this.ended.size >= CACHE_MAX) this.ended.delete(this.ended.keys().next().value!);
    this.ended.set(sessionId, { userId, reason });
  }
}
