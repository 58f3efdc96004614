import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { SessionWatch } from '../realtime/session-watch.js';
import type { RefreshTokensRepository } from './refresh-tokens.repository.js';
import type { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

const USER = 'user-1';
const SID = 'session-1';

describe('SessionsService liveness cache', () => {
  let bus: InProcessRealtimeBus;
  let row: { userId: string; revokedAt: Date | null; revokedReason: string | null };
  let reads: number;
  let findById: (id: string) => Promise<typeof row | null>;
  let service: SessionsService;
  let watch: SessionWatch;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    bus = new InProcessRealtimeBus();
    row = { userId: USER, revokedAt: null, revokedReason: null };
    reads = 0;
    findById = async () => ({ ...row });
    const repository = {
      findById: (id: string) => {
        reads++;
        return findById(id);
      },
      findEnded: async (ids: string[]) =>
        ids.includes(SID) && row.revokedAt ? [{ id: SID, userId: row.userId, reason: row.revokedReason }] : [],
    } as unknown as SessionsRepository;
    watch = new SessionWatch();
    const config = { auth: { sessionCheckIntervalMs: 60_000 } } as AppConfig;
    service = new SessionsService({} as DataSource, repository, {} as RefreshTokensRepository, bus, watch, config);
    service.onModuleInit();
  });
  afterEach(() => {
    service.onModuleDestroy();
    vi.useRealTimers();
  });

  it('reads a live session at most once a second', async () => {
    for (let i = 0; i < 5; i++) expect(await service.state(USER, SID)).toEqual({ status: 'live' });
    expect(reads).toBe(1);
    vi.advanceTimersByTime(1001);
    await service.state(USER, SID);
    expect(reads).toBe(2);
  });

  it('trusts the cache no longer than a second when the revocation event is lost', async () => {
    await service.state(USER, SID);
    row = { ...row, revokedAt: new Date(), revokedReason: 'logout' };
    vi.advanceTimersByTime(1001);
    expect(await service.state(USER, SID)).toEqual({ status: 'ended', reason: 'logout' });
  });

  it('ends a cached session at once on session.revoked, without reading again', async () => {
    await service.state(USER, SID);
    bus.publish({ type: 'session.revoked', userId: USER, sessionIds: [SID], reason: 'logout-all' });
    expect(await service.state(USER, SID)).toEqual({ status: 'ended', reason: 'logout-all' });
    expect(reads).toBe(1);
  });

  it('lets a revocation announced during the read win over the live row it returns', async () => {
    findById = async () => {
      bus.publish({ type: 'session.revoked', userId: USER, sessionIds: [SID], reason: 'password-changed' });
      return { ...row };
    };
    expect(await service.state(USER, SID)).toEqual({ status: 'ended', reason: 'password-changed' });
  });

  it('does not take a session for another user\'s, cached or not', async () => {
    expect(await service.state('someone-else', SID)).toEqual({ status: 'unknown' });
    await service.state(USER, SID);
    expect(await service.state('someone-else', SID)).toEqual({ status: 'unknown' });
  });

  it('announces, on its next sweep, a watched session that ended without an event reaching here', async () => {
    const announced: RealtimeEvent[] = [];
    bus.events$.subscribe((event) => announced.push(event));
    const release = watch.watch(SID);
    await service.sweep();
    expect(announced).toEqual([]);

    row = { ...row, revokedAt: new Date(), revokedReason: 'password-changed' };
    await service.sweep();
    expect(announced).toEqual([{ type: 'session.revoked', userId: USER, sessionIds: [SID], reason: 'password-changed' }]);
    expect(await service.state(USER, SID)).toEqual({ status: 'ended', reason: 'password-changed' });

    // Once its connections have closed, the session is no longer checked.
    release();
    announced.length = 0;
    await service.sweep();
    expect(announced).toEqual([]);
  });

  it('closes a connection that opened while its session\'s end was being announced', async () => {
    const announced: RealtimeEvent[] = [];
    bus.publish({ type: 'session.revoked', userId: USER, sessionIds: [SID], reason: 'logout' });
    bus.events$.subscribe((event) => announced.push(event));
    // Authenticated just before the end, set up just after it.
    watch.watch(SID);
    watch.watch('another-session');
    await new Promise((resolve) => setImmediate(resolve));
    expect(announced).toEqual([{ type: 'session.revoked', userId: USER, sessionIds: [SID], reason: 'logout' }]);
    expect(reads).toBe(0);
  });
});
