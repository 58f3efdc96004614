import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import { ChatGateway } from '../../src/gateway/chat.gateway.js';
import { TYPING_RELAY_INTERVAL_MS, TYPING_TTL_MS } from '../../src/gateway/typing-relay.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { waitUntil } from '../support/conditions.js';
import { acked, fakeSocket } from '../support/service/fake-socket.js';
import { gate } from '../support/service/scripted-model.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

type Presence = Extract<RealtimeEvent, { type: 'presence' }>;
type Typing = Extract<RealtimeEvent, { type: 'typing' }>;

/**
 * ChatGateway's handlers called as Socket.IO would call them after the handshake, on sockets
 * that hold only what the handlers use; what they publish is read from the in-process bus.
 */
describe('ChatGateway handlers', () => {
  let app: ServiceApp;
  let gateway: ChatGateway;

  beforeAll(async () => {
    app = await startServiceApp();
    gateway = app.get(ChatGateway);
  });
  afterEach(() => vi.useRealTimers());
  afterAll(() => app?.close());

  async function room(...others: ('member' | 'viewer')[]) {
    const owner = await app.user('owner');
    const users: AuthUser[] = [];
    for (const role of others) users.push(await app.user(role));
    const conversation = await app.conversation(owner, { mode: 'off' });
    for (const [i, user] of users.entries()) await app.get(ConversationsService).addParticipant(owner, conversation.id, { userId: user.id, role: others[i]! });
    return { owner, users, conversation };
  }

  const announced = (conversationId: string) => app.events.of({ conversationId }).filter((event): event is Presence => event.type === 'presence');
  /** Waits for the nth presence event of the conversation and returns who it says is online. */
  const presence = async (conversationId: string, nth: number) => {
    await waitUntil(() => announced(conversationId).length >= nth, `presence event ${nth}`);
    return [...announced(conversationId)[nth - 1]!.online].sort();
  };
  const typingEvents = (conversationId: string) => app.events.of({ conversationId }).filter((event): event is Typing => event.type === 'typing');

  describe('conversation:join', () => {
    it('answers a participant with the conversation and its version, and joins the socket to its room', async () => {
      const { owner, conversation } = await room();
      const socket = fakeSocket(owner);

      const ack = await acked(gateway.join(socket, { conversationId: conversation.id }));

      expect(ack).toMatchObject({ ok: true, data: { conversation: { id: conversation.id }, changes: [], activeRun: null } });
      expect(socket.rooms).toContain(`conversation:${conversation.id}`);
    });

    it('answers NOT_FOUND to a user who is not a participant, and joins nothing', async () => {
      const { conversation } = await room();
      const outsider = fakeSocket(await app.user('outsider'));

      const ack = await acked(gateway.join(outsider, { conversationId: conversation.id }));

      expect(ack).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect(outsider.rooms.size).toBe(0);
    });

    it('refuses a socket that disconnected while its access was checked (CONFLICT), adding no presence', async () => {
      const { owner, conversation } = await room();
      const socket = fakeSocket(owner);
      socket.disconnected = true;

      expect(await acked(gateway.join(socket, { conversationId: conversation.id }))).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      expect(socket.data.conversations.size).toBe(0);
    });
  });

  describe('presence', () => {
    it('announces who is online as sockets join, leave and disconnect', async () => {
      const { owner, users: [member], conversation } = await room('member');
      const ownerSocket = fakeSocket(owner);
      const memberTab1 = fakeSocket(member!);
      const memberTab2 = fakeSocket(member!);

      await gateway.join(ownerSocket, { conversationId: conversation.id });
      expect(await presence(conversation.id, 1)).toEqual([owner.id]);
      await gateway.join(memberTab1, { conversationId: conversation.id });
      await gateway.join(memberTab2, { conversationId: conversation.id });
      expect(await presence(conversation.id, 2)).toEqual([owner.id, member!.id].sort());

      // One of two tabs leaving keeps the member online; the last one takes them offline.
      await gateway.leave(memberTab1, { conversationId: conversation.id });
      gateway.handleDisconnect(memberTab2);
      expect(await presence(conversation.id, 3)).toEqual([owner.id]);
      expect(announced(conversation.id)).toHaveLength(3);
    });
  });

  describe('typing', () => {
    it('refuses typing before a join (NOT_JOINED) and from a viewer (FORBIDDEN)', async () => {
      const { owner, users: [viewer], conversation } = await room('viewer');
      expect(await acked(gateway.typingStart(fakeSocket(owner), { conversationId: conversation.id }))).toMatchObject({
        ok: false,
        error: { code: 'NOT_FOUND', details: { reason: 'NOT_JOINED' } },
      });
      const viewerSocket = fakeSocket(viewer!);
      await gateway.join(viewerSocket, { conversationId: conversation.id });
      expect(await acked(gateway.typingStart(viewerSocket, { conversationId: conversation.id }))).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(typingEvents(conversation.id)).toEqual([]);
    });

    it('relays typing at once and ends it by itself TYPING_TTL_MS after the last start', async () => {
      // Only the typing timers jump; the fake clock otherwise follows real time, which the database driver needs.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], shouldAdvanceTime: true });
      const { owner, conversation } = await room();
      const socket = fakeSocket(owner);
      await gateway.join(socket, { conversationId: conversation.id });

      expect(await gateway.typingStart(socket, { conversationId: conversation.id })).toMatchObject({ ok: true });
      expect(typingEvents(conversation.id).map((event) => event.isTyping)).toEqual([true]);

      await vi.advanceTimersByTimeAsync(TYPING_TTL_MS - TYPING_RELAY_INTERVAL_MS);
      // A start within the TTL extends it.
      await gateway.typingStart(socket, { conversationId: conversation.id });
      await vi.advanceTimersByTimeAsync(TYPING_TTL_MS - 100);
      expect(typingEvents(conversation.id).map((event) => event.isTyping)).toEqual([true]);

      await vi.advanceTimersByTimeAsync(100);
      expect(typingEvents(conversation.id).map((event) => event.isTyping)).toEqual([true, false]);
      expect(typingEvents(conversation.id).at(-1)).toMatchObject({ userId: owner.id });
    });

    it('stops typing when the typist leaves', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], shouldAdvanceTime: true });
      const { owner, conversation } = await room();
      const socket = fakeSocket(owner);
      await gateway.join(socket, { conversationId: conversation.id });
      await gateway.typingStart(socket, { conversationId: conversation.id });

      await gateway.leave(socket, { conversationId: conversation.id });
      // The stop waits for the end of the relay interval that the start began.
      await vi.advanceTimersByTimeAsync(TYPING_RELAY_INTERVAL_MS);

      expect(typingEvents(conversation.id).map((event) => event.isTyping)).toEqual([true, false]);
    });
  });

  describe('message:send and run:cancel', () => {
    it('stores a message and starts its run; run:cancel ends it cancelled', async () => {
      const owner = await app.user();
      const conversation = await app.conversation(owner);
      app.models.next({ steps: [{ text: 'Held' }, { wait: gate() }] });
      const socket = fakeSocket(owner);

      const sent = await gateway.send(socket, { conversationId: conversation.id, content: 'Hello' });
      expect(sent).toMatchObject({ ok: true, data: { message: { content: 'Hello' }, run: { status: 'running' } } });
      const runId = (sent as { data: { run: { id: string } } }).data.run.id;
      await app.events.waitFor((event) => event.type === 'run.delta' && event.runId === runId, 'the first delta');

      expect(await gateway.cancel(socket, { runId })).toMatchObject({ ok: true, data: { id: runId, status: 'cancelled' } });
      expect(await acked(gateway.cancel(fakeSocket(await app.user('stranger')), { runId }))).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    });
  });
});
