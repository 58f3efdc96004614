import { type ChatSocket, ConversationSync, type ConversationSyncOptions, createClient, type JoinError, type MessageDto } from '@agent-chat/client';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emitted, FakeSocket, message, sleep, until } from './fixtures.js';

const conversation = { id: 'c1', version: 0 };

/** A join answer holding `changes`, at `version`. */
function joined(changes: MessageDto[], version: number, hasMore = false) {
  return { ok: true, data: { conversation, changes, hasMore, version, activeRun: null } };
}

const refused = (code: string, details?: unknown) => ({ ok: false, error: { code, message: code.toLowerCase(), ...(details ? { details } : {}) } });

const joins = (socket: FakeSocket): Emitted[] => socket.emitted.filter((e) => e.event === 'conversation:join');

describe('ConversationSync', () => {
  const syncs: ConversationSync[] = [];
  afterEach(() => {
    for (const sync of syncs.splice(0)) sync.close();
  });

  function follow(socket: FakeSocket, options: Partial<ConversationSyncOptions> = {}): ConversationSync {
    const rest = createClient({ baseUrl: 'http://api.test', fetch: async () => Response.json({}, { status: 500 }) });
    const sync = new ConversationSync({ socket: socket as unknown as ChatSocket, rest, conversationId: 'c1', retryDelayMs: 10, ...options });
    syncs.push(sync);
    return sync;
  }

  it('stops after one join of a conversation the server does not know, and reports it', async () => {
    const socket = new FakeSocket(() => refused('NOT_FOUND'));
    const errors: JoinError[] = [];
    const sync = follow(socket, { onError: (error) => errors.push(error) });
    await until(() => errors.length > 0, 'the refusal reported');
    await sleep(300);
    expect(joins(socket)).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    expect(sync.error?.code).toBe('NOT_FOUND');
    expect(sync.live).toBe(false);
    // A reconnect does not try again either.
    socket.receive('connect', undefined);
    await sleep(50);
    expect(joins(socket)).toHaveLength(1);
  });

  it('joins again after an internal error with backoff, and after a rate limit once its delay has passed', async () => {
    const answers = [refused('INTERNAL'), refused('RATE_LIMITED', { retryAfterSeconds: 0.2 }), joined([], 0)];
    const socket = new FakeSocket((_, nth) => answers[nth - 1]);
    const sync = follow(socket);
    await until(() => joins(socket).length === 2, 'the join after the internal error');
    const limitedAt = Date.now();
    await until(() => sync.live, 'the sync live');
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(190);
    expect(joins(socket)).toHaveLength(3);
  });

  it('emits nothing once closed, though a join was due again', async () => {
    const socket = new FakeSocket(() => refused('INTERNAL'));
    const sync = follow(socket, { retryDelayMs: 50 });
    await until(() => joins(socket).length === 1, 'the first join');
    sync.close();
    await sleep(400);
    expect(joins(socket)).toHaveLength(1);
  });

  it('joins again when paging the changes fails, without an unhandled rejection, and then applies what arrived meanwhile', async () => {
    const [m1, m2, m3] = [message({ version: 1 }), message({ version: 2 }), message({ version: 3 })];
    let pages = 0;
    const rest = createClient({
      baseUrl: 'http://api.test',
      fetch: async () => (++pages === 1 ? Response.json({ code: 'INTERNAL' }, { status: 500 }) : Response.json({ items: [m2, m3], hasMore: false, version: 3 })),
    });
    const socket = new FakeSocket(() => {
      // A live change while the join is under way: buffered until the join is applied.
      queueMicrotask(() => socket.receive('message:created', { message: m4, version: 4 }));
      return joined([m1], 3, true);
    });
    const m4 = message({ version: 4 });
    const sync = follow(socket, { rest });
    await until(() => sync.live, 'the sync live');
    expect(joins(socket).length).toBe(2);
    expect(pages).toBe(2);
    expect(sync.state.version).toBe(4);
    expect([...sync.state.messages.keys()]).toEqual([m1.id, m2.id, m3.id, m4.id]);
  });

  it('joins again when a join goes unanswered on a connection that stays up, and is not live meanwhile', async () => {
    const m1 = message({ version: 1 });
    const m2 = message({ version: 2 });
    const socket = new FakeSocket((_, nth) => (nth === 1 ? joined([m1], 1) : nth === 2 ? undefined : joined([m2], 2)));
    const sync = follow(socket, { ackTimeoutMs: 50 });
    await until(() => sync.live, 'the first join');
    // The server asks for a join; its answer never comes, and a change arrives meanwhile.
    socket.receive('resync', { conversationIds: ['c1'] });
    socket.receive('message:created', { message: m2, version: 2 });
    expect(sync.live).toBe(false);
    await until(() => joins(socket).length === 3, 'a join after the unanswered one');
    await until(() => sync.live, 'the sync live again');
    expect(sync.state.version).toBe(2);
    expect(sync.state.messages.get(m2.id)).toEqual(m2);
  });
});
