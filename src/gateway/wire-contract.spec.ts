import 'reflect-metadata';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunDto } from '../agent/dto/run.dto.js';
import { toClientEvent } from '../chat/client-events.js';
import { ConversationFeed } from '../chat/conversation-feed.js';
import type { SseStream } from '../chat/sse.js';
import { CLIENT_EVENT_NAMES, SERVER_EVENTS, type SseOnlyEvents } from '../chat/wire-events.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import type { ApprovalDto } from '../approvals/dto/approval.dto.js';
import type { DocumentDto } from '../documents/dto/document.dto.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { RealtimeEvent, RealtimeEventType } from '../realtime/realtime.events.js';
import { AppConfig } from '../config/app-config.js';
import { PresenceService } from '../realtime/presence.service.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { ChatGateway } from './chat.gateway.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { CountingEncoder } from './socket-backlog.js';

const C = 'c1';
const run = { id: 'r1', conversationId: C, status: 'running' } as RunDto;
const message = (version: number) => ({ id: `m${version}`, conversationId: C, version }) as MessageDto;
const view: ConversationView = {
  id: C,
  title: 'Plans',
  ownerId: 'u1',
  agent: { mode: 'auto', provider: null, model: null, systemPrompt: null, tools: null },
  lastSeq: 1,
  version: 1,
  lastMessageAt: null,
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
  participants: [{ userId: 'u1', role: 'owner', lastReadSeq: 0, pinned: false, archived: false }],
};

/** One event of every type on the bus: a new type does not compile until it is added here. */
const everyBusEvent: { [T in RealtimeEventType]: Extract<RealtimeEvent, { type: T }> } = {
  'message.created': { type: 'message.created', conversationId: C, message: message(1) },
  'message.updated': { type: 'message.updated', conversationId: C, message: message(2) },
  'message.deleted': { type: 'message.deleted', conversationId: C, messageId: 'm1', seq: 1, version: 3 },
  'conversation.updated': { type: 'conversation.updated', conversationId: C, conversation: view, version: 4 },
  'run.started': { type: 'run.started', conversationId: C, run },
  'run.delta': { type: 'run.delta', conversationId: C, runId: run.id, index: 0, text: 'Hel' },
  'run.tool': { type: 'run.tool', conversationId: C, runId: run.id, callId: 't1', name: 'search', status: 'started' },
  'run.completed': { type: 'run.completed', conversationId: C, run, message: message(5), version: 5 },
  'run.failed': { type: 'run.failed', conversationId: C, run, error: { code: 'PROVIDER', message: 'down' }, version: 6 },
  'run.cancelled': { type: 'run.cancelled', conversationId: C, run, version: 7 },
  'run.cancel': { type: 'run.cancel', conversationId: C, runId: run.id },
  'run.snapshot.request': { type: 'run.snapshot.request', runId: run.id, requestId: 'q1' },
  'run.snapshot': { type: 'run.snapshot', runId: run.id, requestId: 'q1', content: 'Hel', index: 0 },
  typing: { type: 'typing', conversationId: C, userId: 'u2', isTyping: true },
  presence: { type: 'presence', conversationId: C, online: ['u1'] },
  'document.updated': { type: 'document.updated', conversationId: C, document: { id: 'd1', ownerId: 'u2', conversationId: C } as DocumentDto },
  'approval.requested': { type: 'approval.requested', conversationId: C, approval: { id: 'a1', runId: run.id, conversationId: C, status: 'pending' } as ApprovalDto },
  'approval.resolved': { type: 'approval.resolved', conversationId: C, approval: { id: 'a1', runId: run.id, conversationId: C, status: 'approved' } as ApprovalDto },
  'run.queued': { type: 'run.queued', conversationId: C },
  'user.changed': { type: 'user.changed', userId: 'u1' },
  'participant.removed': { type: 'participant.removed', conversationId: C, userId: 'u3' },
  'conversation.deleted': { type: 'conversation.deleted', conversationId: C },
  'session.revoked': { type: 'session.revoked', userId: 'u1', sessionIds: ['s1'], reason: 'logout' },
};

const names = (entries: Iterable<string>) => [...new Set(entries)].sort();
const busNames = names(Object.entries(SERVER_EVENTS).flatMap(([name, source]) => (source === 'bus' ? [name] : [])));

/** A /chat namespace with one socket (user u1, session s1, joined to C) that records every emit. */
function recordingNamespace() {
  const emitted: string[] = [];
  const emit = (name: string) => emitted.push(name) > 0;
  const room = { except: () => room, emit };
  const socket = {
    id: 'socket1',
    data: { user: { id: 'u1', sessionId: 's1' }, conversations: new Set([C]) },
    conn: { writeBuffer: [], transport: {}, close: () => undefined },
    emit,
    disconnect: () => undefined,
  };
  const namespace = {
    server: { encoder: new CountingEncoder(), engine: { clients: {} } },
    use: () => undefined,
    local: { to: () => room },
    adapter: { rooms: new Map([['user:u1', new Set([socket.id])]]) },
    sockets: new Map([[socket.id, socket]]),
  };
  return { namespace, emitted };
}

function gatewayOn(namespace: unknown, bus: { events$: Subject<RealtimeEvent>; resumed$: Subject<void> }): ChatGateway {
  const counter = { inc: () => undefined, dec: () => undefined };
  // Delivering events needs only the bus, presence, metrics and config; the rest stays undefined.
  // Matched to the constructor by type, as Nest's injector does, so its parameter order does not matter.
  const provided = new Map<unknown, unknown>([
    [PresenceService, { evict: () => false, leave: () => false, online: async () => [] }],
    [RealtimeBus, { ...bus, publish: () => undefined }],
    [GatewayMetrics, { eventsOut: counter, connected: counter }],
    [AppConfig, { limits: { wsMaxBacklogBytes: 1 << 20 } }],
  ]);
  const parameters = Reflect.getMetadata('design:paramtypes', ChatGateway) as unknown[];
  expect(parameters.filter((type) => provided.has(type))).toHaveLength(provided.size);
  const gateway = new ChatGateway(...(parameters.map((type) => provided.get(type)) as ConstructorParameters<typeof ChatGateway>));
  Object.assign(gateway, { server: namespace });
  gateway.afterInit(namespace as never);
  return gateway;
}

describe('the wire contract', () => {
  let gateway: ChatGateway | undefined;
  afterEach(() => gateway?.onModuleDestroy());

  it('maps every domain event meant for clients onto exactly the bus events of ServerToClientEvents', () => {
    const mapped = Object.values(everyBusEvent).flatMap((event) => toClientEvent(event, 'u1')?.name ?? []);
    expect(names(mapped)).toEqual(busNames);
  });

  it('Socket.IO: the gateway emits every server event of the contract and nothing else', () => {
    const { namespace, emitted } = recordingNamespace();
    const bus = { events$: new Subject<RealtimeEvent>(), resumed$: new Subject<void>() };
    gateway = gatewayOn(namespace, bus);
    for (const event of Object.values(everyBusEvent)) bus.events$.next(event);
    bus.resumed$.next();
    gateway.beforeApplicationShutdown();
    expect(names(emitted)).toEqual(names(Object.keys(SERVER_EVENTS)));
  });

  it("Socket.IO: a document's update goes to its conversation, or for a private one to its owner's sockets alone", () => {
    const { namespace } = recordingNamespace();
    const targets: string[] = [];
    const to = (room: string) => ({ except: () => ({ emit: () => targets.push(`${room} (except)`) > 0 }), emit: () => targets.push(room) > 0 });
    Object.assign(namespace, { local: { to } });
    const bus = { events$: new Subject<RealtimeEvent>(), resumed$: new Subject<void>() };
    gateway = gatewayOn(namespace, bus);
    const document = { id: 'd1', ownerId: 'u2', conversationId: null } as DocumentDto;
    bus.events$.next({ type: 'document.updated', document });
    bus.events$.next({ type: 'document.updated', conversationId: C, document: { ...document, conversationId: C } });
    expect(targets).toEqual(['user:u2', `conversation:${C}`]);
  });

  it('SSE: a conversation feed sends the bus events of the contract and its own frames, nothing else', async () => {
    const sent: string[] = [];
    const stream: SseStream = { send: (...[event]) => void sent.push(event), mark: () => undefined, comment: () => undefined, close: () => undefined, closed: false, onClose: () => undefined };
    const events$ = new Subject<RealtimeEvent>();
    const source = {
      changes: async () => ({ conversation: view, version: 0, items: [], hasMore: false, bytes: 0 }),
      activeRun: async () => ({ run, content: '', index: -1 }),
    };
    await new ConversationFeed(stream, C, 'u1', source).start(events$, undefined);
    for (const event of Object.values(everyBusEvent)) events$.next(event);
    const sseOnly: Record<keyof SseOnlyEvents, true> = { 'run:snapshot': true, 'conversation:closed': true };
    expect(names(sent)).toEqual(names([...busNames, ...Object.keys(sseOnly)]));
  });

  it('has a gateway handler for every client event, and no handler outside the contract', () => {
    const prototype = ChatGateway.prototype as unknown as Record<string, unknown>;
    const handled = Object.getOwnPropertyNames(prototype).flatMap((method) => {
      const event: unknown = typeof prototype[method] === 'function' ? Reflect.getMetadata(MESSAGE_METADATA, prototype[method]) : undefined;
      return typeof event === 'string' ? [event] : [];
    });
    expect(names(handled)).toEqual(names(CLIENT_EVENT_NAMES));
  });
});
