import { randomUUID } from 'node:crypto';
import * as fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import type { Registered } from './auth.js';
import { createClient, isDeleted, isTombstone, type MessageDto, readChanges } from '@agent-chat/client';
import { ConversationReplica, type Json, SocketSync, SseSync, type SyncTransport } from './sync-client.js';

/**
 * Randomized schedules of everything that changes a conversation, run against live clients
 * that drop and come back at random moments; at quiescence every client must hold exactly the
 * server's state. Shared by the single-instance e2e suite and the two-instance integration suite.
 */

const API = '/api/v1';

export type Action =
  /** `retry`: sent again with the same clientMessageId over the other transport. */
  | { kind: 'send'; user: number; via: 'rest' | 'socket'; mention: boolean; retry: boolean }
  | { kind: 'edit'; pick: number }
  | { kind: 'delete'; pick: number; reply: boolean }
  | { kind: 'regenerate'; pick: number }
  | { kind: 'cancel'; via: 'rest' | 'socket' }
  | { kind: 'title' }
  | { kind: 'agent'; mode: 'mention' | 'auto' }
  /** Off the network for `steps` further actions (the end of the schedule at most). */
  | { kind: 'disconnect'; client: number; steps: number }
  /** A brief network drop the transport recovers from by itself. */
  | { kind: 'drop'; client: number }
  | { kind: 'wait'; ms: number }
  /** Until every reply asked for so far has ended (a client away meanwhile misses all of it). */
  | { kind: 'awaitReplies' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), user: fc.nat(1), via: fc.constantFrom('rest' as const, 'socket' as const), mention: fc.boolean(), retry: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('edit' as const), pick: fc.nat(50) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(50), reply: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('regenerate' as const), pick: fc.nat(50) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), via: fc.constantFrom('rest' as const, 'socket' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('title' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('agent' as const), mode: fc.constantFrom('mention' as const, 'auto' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), client: fc.nat(9), steps: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), client: fc.nat(9) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 250 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('awaitReplies' as const) }) },
);

export function schedules(minLength: number, maxLength: number): fc.Arbitrary<Action[]> {
  return fc.array(action, { minLength, maxLength });
}

export interface ClientSpec {
  kind: 'socket' | 'sse';
  /** Index into the users. */
  user: number;
  /** Index into the instances. */
  instance: number;
}

/** The clients of a world, narrowed to one transport by SYNC_CLIENTS=socket|sse (to bisect a failure). */
export function clientsOf(specs: ClientSpec[]): ClientSpec[] {
  const only = process.env.SYNC_CLIENTS;
  return only ? specs.filter((spec) => spec.kind === only) : specs;
}

export interface SyncWorld {
  /** Base URLs of the server instances (one, or several sharing a database and Redis). */
  instances: string[];
  /** [owner, member]: both may send; only the owner deletes others' messages and edits settings. */
  users: Registered[];
  clients: ClientSpec[];
  /** Page size the clients and the oracle use for GET …/changes. */
  pageLimit: number;
}

/** What the fake model streams for every reply: many small chunks, a little apart. */
export const REPLY_CHUNKS = Array.from({ length: 24 }, (_, i) => `w${i} `);
export const REPLY_CHUNK_DELAY_MS = 8;

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'interrupted']);

async function http(baseUrl: string, token: string, method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(`${API}${path}`, baseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
  const text = await response.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await condition()) return true;
    await sleep(25);
  }
  return condition();
}

async function connectedSocket(baseUrl: string, token: string): Promise<Socket> {
  const socket = io(`${baseUrl}/chat`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnectionDelay: 50 });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

export interface Truth {
  version: number;
  messages: Json[];
  conversation: Json;
  /** Disagreements between the server's own views of the conversation. */
  problems: string[];
}

/** The server's state, read as a client with nothing would: the changes feed from 0, paged. */
export async function readTruth(world: SyncWorld, conversationId: string): Promise<Truth> {
  const [owner] = world.users;
  const baseUrl = world.instances[0]!;
  const replica = new ConversationReplica('truth');
  const problems: string[] = [];
  let previous = 0;
  const rest = createClient({ baseUrl, getToken: () => owner!.accessToken });
  const version = await readChanges(rest, conversationId, 0, (page) => {
    for (const message of page.items) {
      if (message.version <= previous) problems.push(`changes feed not ascending by version: v${message.version} after v${previous}`);
      previous = message.version;
      replica.applyMessage(message, 'truth');
    }
  }, world.pageLimit);
  problems.push(...replica.violations);
  const conversation = (await http(baseUrl, owner!.accessToken, 'GET', `/conversations/${conversationId}`)).body;
  if (conversation.version !== version) problems.push(`GET conversation says version ${conversation.version}, the changes feed ${version}`);
  const history: Json[] = [];
  for (let afterSeq = 0; ; ) {
    const page = (await http(baseUrl, owner!.accessToken, 'GET', `/conversations/${conversationId}/messages?afterSeq=${afterSeq}&limit=100`)).body;
    history.push(...page.items);
    if (!page.hasMore || !page.items.length) break;
    afterSeq = page.items.at(-1).seq;
  }
  // History lists every message in seq order, tombstones included, each in its current state.
  const fed = replica.snapshot();
  if (JSON.stringify(fed.map((m) => m.id)) !== JSON.stringify(history.map((m) => m.id))) {
    problems.push(`history lists ${history.length} messages, the changes feed ${fed.length}, or in another order`);
  }
  for (const message of history) {
    const known = replica.messages.get(message.id);
    const deleted = Boolean(message.deletedAt);
    const copy = known && !isTombstone(known) ? known : undefined;
    if (known && (known.version !== message.version || isDeleted(known) !== deleted || (!deleted && (copy?.content !== message.content || copy?.status !== message.status)))) {
      problems.push(`message ${message.id}: history has v${message.version} ${deleted ? 'deleted' : message.status} ${JSON.stringify(message.content)}, changes v${known.version} ${isDeleted(known) ? 'deleted' : copy?.status} ${JSON.stringify(copy?.content)}`);
    }
  }
  return { version, messages: replica.snapshot(), conversation, problems };
}

function diff(expected: Json[], actual: Json[]): string[] {
  const lines: string[] = [];
  const byId = new Map(actual.map((m) => [m.id, m]));
  for (const want of expected) {
    const got = byId.get(want.id);
    byId.delete(want.id);
    if (!got) lines.push(`  missing ${JSON.stringify(want)}`);
    else if (JSON.stringify(got) !== JSON.stringify(want)) lines.push(`  differs ${want.id}\n    server ${JSON.stringify(want)}\n    client ${JSON.stringify(got)}`);
  }
  for (const extra of byId.values()) lines.push(`  extra   ${JSON.stringify(extra)}`);
  return lines;
}

export interface Outcome {
  failures: string[];
  report: string;
  stats: { actions: number; runs: number; version: number; deltasApplied: number; deltasSkipped: number };
}

/**
 * Runs one schedule in a fresh conversation: performs the actions, lets clients come and go,
 * waits for quiescence, then compares every client with the server.
 */
export async function runSchedule(world: SyncWorld, schedule: Action[], label: string): Promise<Outcome> {
  const [owner, member] = world.users as [Registered, Registered];
  const main = world.instances[0]!;
  const created = await http(main, owner.accessToken, 'POST', '/conversations', {
    title: `sync ${label}`,
    participantIds: [member.id],
    agent: { mode: 'mention' },
  });
  if (created.status !== 201) throw new Error(`create conversation: ${created.status} ${JSON.stringify(created.body)}`);
  const conversationId: string = created.body.id;
  const trace: string[] = [];
  const log = (line: string) => trace.push(`${new Date().toISOString().slice(17, 23)} ${line}`);

  const clients: SyncTransport[] = world.clients.map((spec, i) => {
    const options = {
      baseUrl: world.instances[spec.instance % world.instances.length]!,
      token: () => world.users[spec.user]!.accessToken,
      conversationId,
      name: `${spec.kind}#${i} user${spec.user}@${spec.instance}`,
      pageLimit: world.pageLimit,
    };
    return spec.kind === 'socket' ? new SocketSync(options) : new SseSync(options);
  });
  const senders = await Promise.all(world.users.map((user, i) => connectedSocket(world.instances[i % world.instances.length]!, user.accessToken)));
  const userMessages: { id: string; author: number }[] = [];
  const runs = new Set<string>();
  const reconnectIn = new Map<number, number>();

  const runsEnded = async () => {
    for (const runId of runs) {
      const run = await http(main, owner.accessToken, 'GET', `/conversations/${conversationId}/runs/${runId}`);
      if (run.status === 200 && !TERMINAL.has(run.body.status)) return false;
    }
    return true;
  };
  const noteRun = (run: Json) => {
    if (run?.id) runs.add(run.id);
  };
  const knownReplies = (): MessageDto[] => {
    const seen = new Map<string, MessageDto>();
    for (const client of clients) for (const m of client.replica.visibleMessages()) if (m.role === 'assistant') seen.set(m.id, m);
    return [...seen.values()].sort((a, b) => a.seq - b.seq);
  };
  const ackOf = async (socket: Socket, event: string, payload: unknown) => {
    try {
      return await socket.timeout(10_000).emitWithAck(event, payload);
    } catch (error) {
      return { ok: false, error: { code: 'NO_ACK', message: (error as Error).message } };
    }
  };

  const failures: string[] = [];
  let version = 0;
  try {
    // Everyone starts caught up; what follows happens while they listen (or do not).
    await waitUntil(() => clients.every((c) => c.live), 10_000);
    let step = 0;
    for (const act of schedule) {
      step++;
      for (const [client, left] of reconnectIn) {
        if (left <= 1) {
          reconnectIn.delete(client);
          clients[client]!.connect();
          log(`  reconnect ${clients[client]!.replica.name}`);
        } else reconnectIn.set(client, left - 1);
      }
      const describe = JSON.stringify(act);
      switch (act.kind) {
        case 'send': {
          const user = world.users[act.user]!;
          const content = `${act.mention ? '@agent ' : ''}m${step} from user${act.user}`;
          const clientMessageId = randomUUID();
          const send = (via: 'rest' | 'socket') =>
            via === 'rest'
              ? http(world.instances[act.user % world.instances.length]!, user.accessToken, 'POST', `/conversations/${conversationId}/messages`, { content, clientMessageId })
              : ackOf(senders[act.user]!, 'message:send', { conversationId, content, clientMessageId }).then((ack) => ({ status: ack.ok ? 201 : 0, body: ack.ok ? ack.data : ack.error }));
          const answer = await send(act.via);
          if (answer.status === 201) {
            userMessages.push({ id: answer.body.message.id, author: act.user });
            noteRun(answer.body.run);
          }
          log(`${step} ${describe} → ${answer.status} ${answer.body?.message?.id ?? JSON.stringify(answer.body)} run ${answer.body?.run?.id ?? '-'}`);
          if (act.retry && answer.status === 201) {
            const again = await send(act.via === 'rest' ? 'socket' : 'rest');
            if (again.body?.message?.id !== answer.body.message.id || (again.body?.run?.id ?? null) !== (answer.body.run?.id ?? null)) {
              failures.push(`server: a retried send (clientMessageId ${clientMessageId}) answered ${JSON.stringify(again.body)}, not message ${answer.body.message.id}`);
            }
          }
          break;
        }
        case 'edit': {
          if (!userMessages.length) break;
          const target = userMessages[act.pick % userMessages.length]!;
          const answer = await http(main, world.users[target.author]!.accessToken, 'PATCH', `/conversations/${conversationId}/messages/${target.id}`, { content: `edited at ${step}` });
          log(`${step} ${describe} ${target.id} → ${answer.status}`);
          break;
        }
        case 'delete': {
          const replies = knownReplies();
          const streaming = replies.filter((m) => m.status === 'streaming');
          const pool = act.reply ? (streaming.length ? streaming : replies).map((m) => ({ id: m.id, author: 0 })) : userMessages;
          if (!pool.length) break;
          const target = pool[act.pick % pool.length]!;
          const answer = await http(main, world.users[target.author]!.accessToken, 'DELETE', `/conversations/${conversationId}/messages/${target.id}`);
          log(`${step} ${describe} ${target.id} → ${answer.status}`);
          break;
        }
        case 'regenerate': {
          if (!userMessages.length) break;
          const target = userMessages[act.pick % userMessages.length]!;
          const answer = await http(main, world.users[target.author]!.accessToken, 'POST', `/conversations/${conversationId}/messages/${target.id}/regenerate`);
          if (answer.status === 201) noteRun(answer.body);
          log(`${step} ${describe} ${target.id} → ${answer.status} run ${answer.body?.id ?? '-'}`);
          break;
        }
        case 'cancel': {
          const pending = [...runs].at(-1);
          if (!pending) break;
          const answer =
            act.via === 'rest'
              ? await http(main, owner.accessToken, 'POST', `/conversations/${conversationId}/runs/${pending}/cancel`)
              : await ackOf(senders[0]!, 'run:cancel', { runId: pending }).then((ack) => ({ status: ack.ok ? 200 : 0, body: ack.ok ? ack.data : ack.error }));
          log(`${step} ${describe} ${pending} → ${answer.status} ${answer.body?.status ?? JSON.stringify(answer.body)}`);
          break;
        }
        case 'title': {
          const answer = await http(main, owner.accessToken, 'PATCH', `/conversations/${conversationId}`, { title: `title at ${step}` });
          log(`${step} ${describe} → ${answer.status} v${answer.body?.version}`);
          break;
        }
        case 'agent': {
          const answer = await http(main, owner.accessToken, 'PATCH', `/conversations/${conversationId}`, { agent: { mode: act.mode, systemPrompt: `prompt at ${step}` } });
          log(`${step} ${describe} → ${answer.status} v${answer.body?.version}`);
          break;
        }
        case 'disconnect': {
          const index = act.client % clients.length;
          if (reconnectIn.has(index)) break;
          clients[index]!.disconnect();
          reconnectIn.set(index, act.steps);
          log(`${step} disconnect ${clients[index]!.replica.name} for ${act.steps} steps`);
          break;
        }
        case 'drop': {
          const index = act.client % clients.length;
          if (reconnectIn.has(index)) break;
          clients[index]!.drop();
          log(`${step} drop ${clients[index]!.replica.name}`);
          break;
        }
        case 'wait':
          await sleep(act.ms);
          break;
        case 'awaitReplies': {
          const ended = await waitUntil(runsEnded, 30_000);
          log(`${step} awaitReplies → ${ended ? 'all ended' : 'still running after 30 s'}`);
          break;
        }
      }
    }

    // Quiescence: everyone back, every run over, every client caught up with the server.
    for (const [index] of reconnectIn) clients[index]!.connect();
    reconnectIn.clear();
    log('quiescence: all clients reconnecting');
    const runsOver = await waitUntil(runsEnded, 60_000);
    if (!runsOver) log('runs still not over after 60 s');
    let truth = await readTruth(world, conversationId);
    const caughtUp = await waitUntil(() => clients.every((c) => c.live && c.replica.version >= truth.version), 15_000);
    truth = await readTruth(world, conversationId);
    log(`truth: version ${truth.version}, ${truth.messages.length} messages${caughtUp ? '' : ' (some clients never caught up)'}`);

    if (!runsOver) failures.push('runs did not end within 60 s');
    for (const problem of truth.problems) failures.push(`server: ${problem}`);
    for (const client of clients) {
      const { replica } = client;
      const lines: string[] = [];
      for (const violation of replica.violations) lines.push(`  ${violation}`);
      if (!client.live) lines.push('  not connected and caught up at quiescence');
      if (replica.version !== truth.version) lines.push(`  version ${replica.version}, server ${truth.version}`);
      lines.push(...diff(truth.messages, replica.snapshot()));
      if (client.kind === 'socket' && replica.conversation) {
        const want = { title: truth.conversation.title, agent: truth.conversation.agent };
        const got = { title: replica.conversation.title, agent: replica.conversation.agent };
        if (JSON.stringify(want) !== JSON.stringify(got)) lines.push(`  conversation ${JSON.stringify(got)}, server ${JSON.stringify(want)}`);
      }
      if (lines.length) failures.push(`${replica.name}:\n${lines.join('\n')}`);
    }
    version = truth.version;
  } catch (error) {
    failures.push(`the schedule could not run: ${(error as Error).stack ?? String(error)}`);
  } finally {
    for (const client of clients) client.close();
    for (const socket of senders) socket.close();
  }
  const failing = clients.filter((c) => failures.some((f) => f.startsWith(`${c.replica.name}:`)));
  const report = [
    `conversation ${conversationId} (${label})`,
    'schedule:',
    ...trace.map((line) => `  ${line}`),
    ...failures.map((f) => `FAILED ${f}`),
    ...failing.flatMap((c) => [`trace of ${c.replica.name} (last 60):`, ...c.replica.trace.slice(-60).map((line) => `  ${line}`)]),
  ].join('\n');
  return {
    failures,
    report,
    stats: {
      actions: schedule.length,
      runs: runs.size,
      version,
      deltasApplied: clients.reduce((sum, c) => sum + c.replica.deltasApplied, 0),
      deltasSkipped: clients.reduce((sum, c) => sum + c.replica.deltasSkipped, 0),
    },
  };
}
