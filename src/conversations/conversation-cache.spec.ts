import { afterEach, describe, expect, it } from 'vitest';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import { ConversationCache } from './conversation-cache.js';
import type { ConversationView } from './conversation.view.js';

const view = (participants: string[], version = 1): ConversationView =>
  ({ id: 'c1', version, participants: participants.map((userId) => ({ userId, role: 'member', lastReadSeq: 0 })) }) as unknown as ConversationView;

describe('ConversationCache', () => {
  const bus = new InProcessRealtimeBus();
  const cache = new ConversationCache(bus);
  cache.onModuleInit();
  afterEach(() => bus.publish({ type: 'conversation.deleted', conversationId: 'c1' }));
  /** What the cache holds: a read that finds nothing is not stored. */
  const held = () => cache.getOrLoad('c1', async () => undefined);

  it('caches what it reads', async () => {
    await cache.getOrLoad('c1', async () => view(['alice', 'bob']));
    expect((await held())?.participants.map((p) => p.userId)).toEqual(['alice', 'bob']);
  });

  it('does not cache a copy read before a participant was removed', async () => {
    const loaded = await cache.getOrLoad('c1', async () => {
      const stale = view(['alice', 'bob']);
      // The removal lands while the read is in flight.
      bus.publish({ type: 'participant.removed', conversationId: 'c1', userId: 'bob' });
      return stale;
    });
    expect(loaded?.participants).toHaveLength(2);
    expect((await held())).toBeUndefined();
  });

  it('drops an entry when its conversation is deleted', async () => {
    await cache.getOrLoad('c1', async () => view(['alice']));
    bus.publish({ type: 'conversation.deleted', conversationId: 'c1' });
    expect((await held())).toBeUndefined();
  });

  it('never takes an older state over a newer one, as events of several instances may arrive out of order', async () => {
    await cache.getOrLoad('c1', async () => view(['alice', 'bob'], 5));
    bus.publish({ type: 'conversation.updated', conversationId: 'c1', conversation: view(['alice', 'bob', 'carol'], 6) });
    expect((await held())?.participants).toHaveLength(3);
    bus.publish({ type: 'conversation.updated', conversationId: 'c1', conversation: view(['alice', 'bob'], 4) });
    expect((await held())).toBeUndefined();
  });
});
