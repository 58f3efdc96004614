import 'reflect-metadata';
import { type AsyncAPIDocumentInterface, type MessageInterface, Parser } from '@asyncapi/parser';
import { GATEWAY_OPTIONS, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA, PARAM_ARGS_METADATA } from '@nestjs/websockets/constants.js';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunDto } from './agent/dto/run.dto.js';
import type { ApprovalDto } from './approvals/dto/approval.dto.js';
import { type ClientEvent, toClientEvent } from './chat/client-events.js';
import { SERVER_EVENTS } from './chat/wire-events.js';
import { createValidationPipe } from './common/pipes/validation.pipe.js';
import type { ConversationView } from './conversations/conversation.view.js';
import { ChatGateway } from './gateway/chat.gateway.js';
import type { MessageDto } from './messages/dto/message.dto.js';
import type { RealtimeEvent, RealtimeEventType } from './realtime/realtime.events.js';

const DOCUMENT = fileURLToPath(new URL('../docs/asyncapi.yaml', import.meta.url));
const CHECKER = fileURLToPath(new URL('../scripts/check-asyncapi.mjs', import.meta.url));
const GATEWAY_SOURCES = ['gateway/chat.gateway.ts', 'gateway/socket-io.adapter.ts'].map((file) => fileURLToPath(new URL(file, import.meta.url)));

const CONVERSATION = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const USER = '2f1b6a8e-4c3d-4e5f-8a9b-0c1d2e3f4a5b';
const OTHER_USER = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const RUN = '5d0ab4ad-3f7a-4c5e-9a55-8f2b0f3e2a10';
const AT = '2026-01-01T12:00:00.000Z';

const reply: MessageDto = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  conversationId: CONVERSATION,
  seq: 3,
  version: 7,
  role: 'assistant',
  authorId: null,
  content: 'Friday the 14th.',
  status: 'complete',
  clientMessageId: null,
  runId: RUN,
  metadata: {
    model: 'gpt-4o-mini',
    usage: { inputTokens: 120, outputTokens: 6 },
    sources: [
      { type: 'document', id: '3f2504e0-4f89-41d3-9a0c-0305e82c3301', title: 'release.md', snippet: 'ships on **Friday** the 14th', chunk: 2, heading: 'Dates', mediaType: 'text/markdown', score: 0.8 },
      { type: 'message', id: '1b4e28ba-2fa1-41d2-883f-0016d3cca427', title: 'Release', snippet: 'what about **Friday**?', conversationId: CONVERSATION, seq: 1, score: 0.1 },
    ],
  },
  attachments: [],
  attachmentDetails: [],
  feedback: { up: 2, down: 1 },
  createdAt: AT,
  editedAt: null,
  deletedAt: null,
};
const run: RunDto = {
  id: RUN,
  conversationId: CONVERSATION,
  triggerMessageId: '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
  responseMessageId: reply.id,
  status: 'completed',
  provider: 'openai',
  model: 'gpt-4o-mini',
  usage: { inputTokens: 120, outputTokens: 6 },
  error: null,
  createdAt: AT,
  startedAt: AT,
  finishedAt: AT,
};
const conversation: ConversationView = {
  id: CONVERSATION,
  title: 'Release planning',
  ownerId: USER,
  agent: { mode: 'auto', provider: null, model: null, systemPrompt: null, tools: null },
  lastSeq: 3,
  version: 7,
  lastMessageAt: AT,
  createdAt: AT,
  updatedAt: AT,
  participants: [
    { userId: USER, role: 'owner', lastReadSeq: 3, pinned: true, archived: false },
    { userId: OTHER_USER, role: 'member', lastReadSeq: 1, pinned: false, archived: false },
  ],
};

const APPROVAL: ApprovalDto = {
  id: '7d0c2a4e-5b1f-4c3a-9e8d-2f6b1a0c9e74',
  runId: RUN,
  conversationId: CONVERSATION,
  toolCallId: 'call_2',
  toolName: 'github__create_issue',
  input: { title: 'Release on Friday' },
  status: 'pending',
  requestedBy: USER,
  decidedBy: null,
  decidedAt: null,
  reason: null,
  expiresAt: AT,
  createdAt: AT,
};

/** One event of every type: a type added to RealtimeEvent fails typechecking until it has one here. */
const SAMPLES: { [Type in RealtimeEventType]: Extract<RealtimeEvent, { type: Type }> } = {
  'message.created': { type: 'message.created', conversationId: CONVERSATION, message: reply },
  'message.updated': { type: 'message.updated', conversationId: CONVERSATION, message: { ...reply, editedAt: AT } },
  'message.deleted': { type: 'message.deleted', conversationId: CONVERSATION, messageId: reply.id, seq: 3, version: 8 },
  'conversation.updated': { type: 'conversation.updated', conversationId: CONVERSATION, conversation, version: 7 },
  'conversation.deleted': { type: 'conversation.deleted', conversationId: CONVERSATION },
  'participant.removed': { type: 'participant.removed', conversationId: CONVERSATION, userId: OTHER_USER },
  'run.started': { type: 'run.started', conversationId: CONVERSATION, run: { ...run, status: 'running', finishedAt: null, usage: null } },
  'run.delta': { type: 'run.delta', conversationId: CONVERSATION, runId: RUN, index: 0, text: 'Friday' },
  'run.tool': { type: 'run.tool', conversationId: CONVERSATION, runId: RUN, callId: 'call_1', name: 'search', status: 'started', args: { q: 'release' } },
  'run.completed': { type: 'run.completed', conversationId: CONVERSATION, run, message: reply, version: 7 },
  'run.failed': {
    type: 'run.failed',
    conversationId: CONVERSATION,
    run: { ...run, status: 'failed', error: { code: 'PROVIDER_UNAVAILABLE', message: 'The provider did not answer' } },
    error: { code: 'PROVIDER_UNAVAILABLE', message: 'The provider did not answer' },
    version: 7,
  },
  'run.cancelled': { type: 'run.cancelled', conversationId: CONVERSATION, run: { ...run, status: 'cancelled' }, version: 7 },
  'run.cancel': { type: 'run.cancel', conversationId: CONVERSATION, runId: RUN },
  'run.snapshot.request': { type: 'run.snapshot.request', runId: RUN, requestId: 'r1' },
  'run.snapshot': { type: 'run.snapshot', runId: RUN, requestId: 'r1', content: 'Friday', index: 0 },
  typing: { type: 'typing', conversationId: CONVERSATION, userId: OTHER_USER, isTyping: true },
  presence: { type: 'presence', conversationId: CONVERSATION, online: [USER, OTHER_USER] },
  'approval.requested': { type: 'approval.requested', conversationId: CONVERSATION, approval: APPROVAL },
  'approval.resolved': {
    type: 'approval.resolved',
    conversationId: CONVERSATION,
    approval: { ...APPROVAL, status: 'denied', decidedBy: USER, decidedAt: AT, reason: 'Not on a Friday' },
  },
  'run.queued': { type: 'run.queued', conversationId: CONVERSATION },
  'document.updated': {
    type: 'document.updated',
    conversationId: CONVERSATION,
    document: {
      id: '3f2b8c1e-9d4a-4b6f-8e2d-7a1c5b9e0f43',
      ownerId: USER,
      conversationId: CONVERSATION,
      filename: 'handbook.pdf',
      mediaType: 'application/pdf',
      bytes: 482113,
      status: 'ready',
      chunks: 37,
      error: null,
      createdAt: AT,
    },
  },
  'user.changed': { type: 'user.changed', userId: USER },
  'session.revoked': { type: 'session.revoked', userId: USER, sessionIds: ['s1'], reason: 'logout' },
};

/** Every bus event as a client receives it (a per-user conversation:updated carries no version). */
const BUS_EVENTS: ClientEvent[] = [
  ...Object.values(SAMPLES),
  { type: 'conversation.updated', conversationId: CONVERSATION, conversation } satisfies RealtimeEvent,
  {
    type: 'document.updated',
    document: { ...SAMPLES['document.updated'].document, conversationId: null, status: 'failed', chunks: 0, error: 'The PDF is password-protected' },
  } satisfies RealtimeEvent,
].flatMap((event) => toClientEvent(event, USER) ?? []);

/** Samples of what the connection sends itself, beside the bus events above (SERVER_EVENTS marks them `transport`). */
const GATEWAY_EVENTS: ClientEvent[] = [
  { name: 'session:expired', payload: { reason: 'expired' } },
  { name: 'session:expired', payload: { reason: 'password-changed' } },
  { name: 'resync', payload: { conversationIds: [CONVERSATION] } },
  { name: 'server:shutdown', payload: { reconnect: true } },
];

/** Socket.IO's own event for a refused handshake: documented, but never emitted by name. */
const CONNECT_ERROR = 'connect_error';

const distinct = (names: Iterable<string>) => [...new Set(names)].sort();

/** The gateway's @SubscribeMessage handlers, by event name, with the DTO of their @MessageBody. */
function subscribedEvents(): Map<string, new () => object> {
  const prototype = ChatGateway.prototype as unknown as Record<string, object>;
  const events = new Map<string, new () => object>();
  for (const key of Object.getOwnPropertyNames(prototype)) {
    const handler = prototype[key]!;
    if (typeof handler !== 'function' || Reflect.getMetadata(MESSAGE_MAPPING_METADATA, handler) !== true) continue;
    const params = Reflect.getMetadata(PARAM_ARGS_METADATA, ChatGateway, key) as Record<string, { index: number }>;
    const body = Object.entries(params).find(([param]) => param.startsWith(`${WsParamtype.PAYLOAD}:`))![1];
    const types = Reflect.getMetadata('design:paramtypes', prototype, key) as (new () => object)[];
    events.set(Reflect.getMetadata(MESSAGE_METADATA, handler) as string, types[body.index]!);
  }
  return events;
}

const conversationId = CONVERSATION;
const NOT_OBJECTS = ['text', 42, [], null];
/** Payloads near every rule of the client events' DTOs, valid or not. */
const CLIENT_PAYLOADS: Record<string, unknown[]> = {
  'conversation:join': [
    { conversationId },
    { conversationId, afterVersion: 0 },
    { conversationId, afterVersion: Number.MAX_SAFE_INTEGER },
    { conversationId, afterVersion: Number.MAX_SAFE_INTEGER + 1 },
    { conversationId, afterVersion: -1 },
    { conversationId, afterVersion: 1.5 },
    { conversationId, afterVersion: '3' },
    { conversationId, afterSeq: 2_147_483_647 },
    { conversationId, afterSeq: 2_147_483_648 },
    { conversationId, afterVersion: 3, afterSeq: 2 },
    { conversationId: 'not-a-uuid' },
    { conversationId, extra: true },
    {},
  ],
  'conversation:leave': [{ conversationId }, { conversationId: 7 }, { conversationId, extra: 1 }, {}],
  'message:send': [
    { conversationId, content: 'hi' },
    { conversationId, content: ' x ' },
    { conversationId, content: '' },
    { conversationId, content: ' \n\t' },
    { conversationId, content: 42 },
    { conversationId, content: 'hi', clientMessageId: 'a'.repeat(100) },
    { conversationId, content: 'hi', clientMessageId: 'a'.repeat(101) },
    { conversationId, content: 'hi', clientMessageId: '' },
    { conversationId, content: 'hi', clientMessageId: 'has space' },
    { conversationId, content: 'hi', clientMessageId: 'ünïcode' },
    { conversationId, content: 'hi', clientMessageId: '~!ok#' },
    { conversationId, content: 'hi', extra: 1 },
    { content: 'hi' },
  ],
  'typing:start': [{ conversationId }, { conversationId: '' }, {}],
  'typing:stop': [{ conversationId }, { conversationId: '' }, {}],
  'conversation:read': [
    { conversationId, seq: 0 },
    { conversationId, seq: 2_147_483_647 },
    { conversationId, seq: 2_147_483_648 },
    { conversationId, seq: -1 },
    { conversationId, seq: 2.5 },
    { conversationId },
  ],
  'run:cancel': [{ runId: RUN }, { runId: 'x' }, { conversationId }, {}],
  'approval:decide': [
    { approvalId: RUN, decision: 'approve' },
    { approvalId: RUN, decision: 'deny', reason: 'Not on a Friday' },
    { approvalId: RUN, decision: 'deny', reason: 'x'.repeat(501) },
    { approvalId: RUN, decision: 'maybe' },
    { approvalId: 'x', decision: 'approve' },
    { decision: 'approve' },
    { approvalId: RUN, decision: 'approve', extra: 1 },
  ],
};

function gatewaySource(): string {
  return GATEWAY_SOURCES.map((file) => readFileSync(file, 'utf8')).join('\n');
}

/** Runs the check that CI runs: its exit status, and what it printed. */
function check(file: string): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHECKER, file], (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }));
  });
}

describe('docs/asyncapi.yaml', () => {
  let document: AsyncAPIDocumentInterface;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);

  const documented = (action: 'send' | 'receive') =>
    document
      .operations()
      .filterBy((operation) => operation.action() === action)
      .flatMap((operation) => operation.messages().all());
  const messageNamed = (name: string): MessageInterface => {
    const found = documented('send').find((candidate) => candidate.name() === name);
    if (!found) throw new Error(`No documented server event "${name}"`);
    return found;
  };
  const problems = (schema: MessageInterface, payload: unknown) => {
    const validate = ajv.compile(schema.payload()!.json());
    return validate(payload) ? [] : (validate.errors ?? []);
  };

  beforeAll(async () => {
    const parsed = await new Parser().parse(readFileSync(DOCUMENT, 'utf8'), { source: DOCUMENT });
    document = parsed.document!;
  });

  it('is a valid AsyncAPI document, and the check refuses an invalid one', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'asyncapi-'));
    try {
      const broken = join(folder, 'asyncapi.yaml');
      writeFileSync(broken, readFileSync(DOCUMENT, 'utf8').replace("$ref: '#/components/schemas/Run'", "$ref: '#/components/schemas/Missing'"));
      const [valid, invalid] = await Promise.all([check(DOCUMENT), check(broken)]);
      expect(valid.output).toContain('valid AsyncAPI 3.0.0');
      expect(valid.status).toBe(0);
      expect(invalid.output).toContain('#/components/schemas/Missing');
      expect(invalid.status).toBe(1);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("documents the gateway's namespace", () => {
    const { namespace } = Reflect.getMetadata(GATEWAY_OPTIONS, ChatGateway) as { namespace: string };
    expect(document.channels().all().map((channel) => channel.address())).toEqual([namespace]);
  });

  it('documents every client event the gateway subscribes to, each with its acknowledgement', () => {
    expect(distinct(documented('receive').map((message) => message.name()!))).toEqual(distinct(subscribedEvents().keys()));
    for (const operation of document.operations().filterByReceive()) {
      expect(operation.reply()?.messages().length, operation.id()).toBe(1);
    }
  });

  it('documents every server event of the typed wire contract, and only those', () => {
    // The gateway can emit only these names (typed sockets); src/gateway/wire-contract.spec.ts checks it emits them all.
    expect(distinct(documented('send').map((message) => message.name()!))).toEqual(distinct([...Object.keys(SERVER_EVENTS), CONNECT_ERROR]));
    const samples = [...BUS_EVENTS, ...GATEWAY_EVENTS].map((event) => event.name);
    expect(distinct(samples)).toEqual(distinct(Object.keys(SERVER_EVENTS)));
  });

  it('knows every reason the gateway refuses a handshake for', () => {
    const source = gatewaySource();

    // The quoted texts from each `new Error(` on: `new Error(unavailable ? 'unavailable' : 'unauthorized')` gives both.
    const refusals = source
      .split('\n')
      .filter((line) => line.includes('new Error('))
      .flatMap((line) => [...line.slice(line.indexOf('new Error(')).matchAll(/'([^']+)'/g)].map((quoted) => quoted[1]!));
    const connectError = messageNamed(CONNECT_ERROR).payload()!.json() as { properties: { message: { enum: string[] } } };
    expect(distinct(connectError.properties.message.enum)).toEqual(distinct(refusals));
  });

  it("accepts and refuses the client payloads the gateway's validation does", async () => {
    const pipe = createValidationPipe();
    const dtos = subscribedEvents();
    expect(distinct(Object.keys(CLIENT_PAYLOADS))).toEqual(distinct(dtos.keys()));
    const clientEvent = (name: string) => documented('receive').find((candidate) => candidate.name() === name)!;
    for (const [event, payloads] of Object.entries(CLIENT_PAYLOADS)) {
      for (const payload of [...payloads, ...NOT_OBJECTS]) {
        const accepted = await pipe.transform(payload, { type: 'body', metatype: dtos.get(event)! }).then(
          () => true,
          () => false,
        );
        expect(problems(clientEvent(event), payload).length === 0, `${event} ${JSON.stringify(payload)}`).toBe(accepted);
      }
    }
  });

  it('describes the payloads the code sends', () => {
    for (const event of [...BUS_EVENTS, ...GATEWAY_EVENTS]) {
      expect(problems(messageNamed(event.name), event.payload), event.name).toEqual([]);
    }
  });

  it('has examples that match their schemas', () => {
    const messages = [...documented('send'), ...documented('receive'), ...document.operations().all().flatMap((op) => op.reply()?.messages().all() ?? [])];
    let examples = 0;
    for (const documentedMessage of messages) {
      for (const example of documentedMessage.examples().all()) {
        examples++;
        expect(problems(documentedMessage, example.payload()), `${documentedMessage.id()} ${example.name() ?? ''}`).toEqual([]);
      }
    }
    expect(examples).toBeGreaterThan(0);
  });
});
