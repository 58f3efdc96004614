import { io, type Socket } from 'socket.io-client';

/**
 * A client-side replica of one conversation that follows the recovery rules of DESIGN.md
 * ("Sync: versions") and the README: messages kept by id with the version of their last change,
 * the highest contiguous version seen, replies streamed from `activeRun` + `run:delta`, and the
 * streamed text replaced by the final message. Transports (Socket.IO, SSE) feed it events; it
 * tells them when they must recover. It also checks what a well-behaved server promises and
 * records every broken promise as a violation instead of hiding it.
 */

// Payloads are the server's JSON; the replica reads only the fields the contract names.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ReplicaMessage {
  id: string;
  seq: number;
  role: string;
  authorId: string | null;
  content: string;
  status: string;
  runId: string | null;
  version: number;
  deleted: boolean;
  metadata: Json;
  editedAt: string | null;
}

interface Stream {
  text: string;
  /** Index of the last delta in `text`; -1 before the first. */
  index: number;
  /** False once a delta was missed: the text is then known to be incomplete and is not checked. */
  exact: boolean;
  applied: Set<number>;
}

/** The version of the change an event announces, wherever the server put it. */
export function versionOf(payload: Json): number | undefined {
  const version = payload?.version ?? payload?.message?.version ?? payload?.conversation?.version;
  return typeof version === 'number' ? version : undefined;
}

/** A message as the replica compares it: tombstones keep only their identity and version. */
export function comparable(message: ReplicaMessage): Json {
  if (message.deleted) return { id: message.id, deleted: true, version: message.version };
  const { id, seq, role, authorId, content, status, runId, version, metadata, editedAt } = message;
  return { id, seq, role, authorId, content, status, runId, version, metadata, editedAt };
}

export function toReplicaMessage(message: Json): ReplicaMessage {
  return {
    id: message.id,
    seq: message.seq,
    role: message.role,
    authorId: message.authorId ?? null,
    content: message.content,
    status: message.status,
    runId: message.runId ?? null,
    version: message.version,
    deleted: Boolean(message.deleted ?? message.deletedAt),
    metadata: message.metadata ?? {},
    editedAt: message.editedAt ?? null,
  };
}

const ignoredViolations = new Set((process.env.SYNC_IGNORE ?? '').split(',').filter(Boolean));

export class ConversationReplica {
  readonly messages = new Map<string, ReplicaMessage>();
  conversation: Json = undefined;
  /** Every change up to this version is in the replica. */
  version = 0;
  /** Versions seen above `version` (out of order, or after a gap). */
  private readonly ahead = new Set<number>();
  readonly streams = new Map<string, Stream>();
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  deltasApplied = 0;
  deltasSkipped = 0;

  constructor(readonly name: string) {}

  note(line: string): void {
    this.trace.push(`${new Date().toISOString().slice(17, 23)} ${line}`);
  }

  /**
   * A broken promise of the server. `kind` names the class, so that a long run hunting for new
   * failures can set aside a known one (SYNC_IGNORE=kind,…).
   */
  violation(line: string, kind = 'other'): void {
    this.note(`VIOLATION ${line}`);
    if (ignoredViolations.has(kind)) return;
    this.violations.push(`[${kind}] ${line}`);
  }

  /** Applies a message's state if it is newer than what the replica has. */
  applyMessage(raw: Json, via: string): void {
    const message = toReplicaMessage(raw);
    if (typeof message.version !== 'number') {
      this.violation(`${via}: message ${message.id} has no version`);
      return;
    }
    const known = this.messages.get(message.id);
    if (known && known.version >= message.version) {
      if (known.version === message.version && JSON.stringify(comparable(known)) !== JSON.stringify(comparable(message))) {
        this.violation(`${via}: message ${message.id} v${message.version} differs from an earlier copy of the same version`);
      }
      return;
    }
    this.messages.set(message.id, message);
    this.note(`${via} ${message.id.slice(0, 8)} #${message.seq} v${message.version} ${message.deleted ? 'deleted' : message.status} ${JSON.stringify(message.content.slice(0, 24))}`);
    if (message.runId && !message.deleted && message.status !== 'streaming') this.endStream(message);
  }

  applyDeletion(messageId: string, version: number | undefined, via: string): void {
    if (version === undefined) {
      this.violation(`${via}: deletion of ${messageId} has no version`);
      return;
    }
    const known = this.messages.get(messageId);
    if (known && known.version >= version) return;
    if (!known) {
      // A deletion of a message the replica never saw: the tombstone is all there is to keep.
      this.messages.set(messageId, { id: messageId, seq: -1, role: '', authorId: null, content: '', status: '', runId: null, version, deleted: true, metadata: {}, editedAt: null });
    } else {
      this.messages.set(messageId, { ...known, version, deleted: true });
    }
    this.note(`${via} ${messageId.slice(0, 8)} v${version} deleted`);
  }

  /** Records a live version; true when it reveals a gap, which calls for recovery. */
  observeVersion(version: number): boolean {
    if (version <= this.version) return false;
    this.ahead.add(version);
    this.advance();
    return this.ahead.size > 0;
  }

  /** Recovery answered the state at `version`. */
  settle(version: number): void {
    if (version > this.version) this.version = version;
    this.advance();
  }

  get hasGap(): boolean {
    return this.ahead.size > 0;
  }

  private advance(): void {
    while (this.ahead.delete(this.version + 1)) this.version += 1;
    for (const seen of this.ahead) if (seen <= this.version) this.ahead.delete(seen);
  }

  /** The text streamed so far of a reply, as recovery tells it. */
  applySnapshot(snapshot: Json, via: string): void {
    if (!snapshot?.run?.id) return;
    const runId: string = snapshot.run.id;
    const current = this.streams.get(runId);
    if (current && current.exact && current.index >= snapshot.index) {
      if (!current.text.startsWith(snapshot.content)) {
        this.violation(`${via}: snapshot of run ${runId} at index ${snapshot.index} disagrees with the ${current.index + 1} deltas already applied`);
      }
      return;
    }
    this.streams.set(runId, { text: snapshot.content, index: snapshot.index, exact: true, applied: new Set(Array.from({ length: snapshot.index + 1 }, (_, i) => i)) });
    this.note(`${via} snapshot run ${runId.slice(0, 8)} index ${snapshot.index} (${snapshot.content.length} chars)`);
  }

  /** A live delta; applied only when it continues the text, never twice. */
  applyDelta(delta: Json, via: string): void {
    const runId: string = delta.runId;
    const finished = [...this.messages.values()].some((m) => m.runId === runId && m.status !== 'streaming');
    if (finished) {
      this.deltasSkipped++;
      return;
    }
    const stream = this.streams.get(runId) ?? { text: '', index: -1, exact: true, applied: new Set<number>() };
    this.streams.set(runId, stream);
    if (delta.index <= stream.index) {
      this.deltasSkipped++;
      return;
    }
    if (delta.index > stream.index + 1) {
      // Only possible when deltas were lost on a live connection: the snapshot of the next
      // recovery repairs the text, but the exactness of this stream can no longer be checked.
      this.violation(`${via}: run ${runId} delta ${delta.index} after ${stream.index}: deltas missing on a live connection`, 'delta-gap');
      stream.exact = false;
    }
    if (stream.applied.has(delta.index)) this.violation(`${via}: run ${runId} delta ${delta.index} applied twice`, 'delta-twice');
    stream.applied.add(delta.index);
    stream.text += delta.text;
    stream.index = delta.index;
    this.deltasApplied++;
  }

  /** A reply reached its final state: the streamed text must be exactly its content. */
  private endStream(message: ReplicaMessage): void {
    const stream = this.streams.get(message.runId!);
    if (!stream) return;
    this.streams.delete(message.runId!);
    if (stream.exact && stream.text !== message.content) {
      this.violation(`run ${message.runId}: streamed ${JSON.stringify(stream.text)} (index ${stream.index}) but the final reply is ${JSON.stringify(message.content)}`, 'stream-text');
    }
  }

  /** A reconnect lost the live stream: what was streamed is incomplete until the next snapshot. */
  interruptStreams(): void {
    for (const stream of this.streams.values()) stream.exact = false;
    this.streams.clear();
  }

  dropStream(runId: string): void {
    this.streams.delete(runId);
  }

  /** The replica's messages in seq order, tombstones included. */
  snapshot(): Json[] {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq || a.id.localeCompare(b.id)).map(comparable);
  }
}

export interface ChangesPage {
  items: Json[];
  hasMore: boolean;
  version: number;
}

/** GET …/changes, followed to the end from `afterVersion`, page by page. */
export async function readChanges(
  baseUrl: string,
  token: string,
  conversationId: string,
  afterVersion: number,
  onPage: (page: ChangesPage) => void,
  limit?: number,
): Promise<number> {
  let after = afterVersion;
  for (;;) {
    const query = new URLSearchParams({ afterVersion: String(after), ...(limit ? { limit: String(limit) } : {}) });
    const response = await fetch(new URL(`/api/v1/conversations/${conversationId}/changes?${query}`, baseUrl), {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status !== 200) throw new Error(`GET changes after ${after}: ${response.status} ${await response.text()}`);
    const page = (await response.json()) as ChangesPage;
    onPage(page);
    if (!page.hasMore) return page.version;
    const last = page.items.at(-1);
    if (!last || typeof last.version !== 'number' || last.version <= after) throw new Error(`GET changes after ${after}: hasMore without progress`);
    after = last.version;
  }
}

export interface SyncTransport {
  readonly replica: ConversationReplica;
  readonly kind: 'socket' | 'sse';
  /** Connected and not recovering. */
  readonly live: boolean;
  disconnect(): void;
  /** Brief network drop: the transport reconnects by itself. */
  drop(): void;
  connect(): void;
  close(): void;
}

const LIVE_EVENTS = ['message:created', 'message:updated', 'message:deleted', 'conversation:updated', 'run:delta', 'run:completed', 'run:failed', 'run:cancelled'];

/** Applies one server event (Socket.IO or SSE, same names and payloads); true when recovery is due. */
function applyEvent(replica: ConversationReplica, event: string, payload: Json, via: string): boolean {
  const version = versionOf(payload);
  switch (event) {
    case 'message:created':
    case 'message:updated':
      replica.applyMessage(payload.message, `${via} ${event}`);
      break;
    case 'message:deleted':
      replica.applyDeletion(payload.messageId, version, `${via} ${event}`);
      break;
    case 'conversation:updated':
      if (version !== undefined && version < (replica.conversation?.version ?? 0)) return false;
      replica.conversation = payload.conversation;
      break;
    case 'run:delta':
      replica.applyDelta(payload, via);
      return false;
    case 'run:snapshot':
      replica.applySnapshot(payload, `${via} ${event}`);
      return false;
    case 'run:completed':
      if (payload.message) replica.applyMessage(payload.message, `${via} ${event}`);
      break;
    case 'run:failed':
    case 'run:cancelled': {
      // These carry no message: their version is covered only once the final reply is here.
      replica.dropStream(payload.run.id);
      // A run that ended before it had a reply (cancelled in the queue) changed nothing visible.
      if (!payload.run.responseMessageId && version === undefined) return false;
      const reply = payload.run.responseMessageId ? replica.messages.get(payload.run.responseMessageId) : undefined;
      if (version !== undefined && (!reply || reply.version < version) && version > replica.version) {
        replica.note(`${via} ${event} v${version} before its final reply: recover`);
        return true;
      }
      break;
    }
    default:
      return false;
  }
  if (version === undefined) {
    replica.violation(`${via} ${event} carries no version`);
    return false;
  }
  return replica.observeVersion(version);
}

export interface SocketSyncOptions {
  baseUrl: string;
  token: () => string;
  conversationId: string;
  name: string;
  /** Page size of GET …/changes when a join answers hasMore. */
  pageLimit?: number;
}

/**
 * Socket.IO transport: (re)joins with `afterVersion` on every connect, buffers live events until
 * the join is applied, pages the rest over REST while `hasMore`, and re-joins on a version jump.
 */
export class SocketSync implements SyncTransport {
  readonly kind = 'socket';
  readonly replica: ConversationReplica;
  readonly socket: Socket;
  private buffer: { event: string; payload: Json }[] | undefined;
  /** Whether the current connection's join was answered: live events apply from then on. */
  private joined = false;
  private recovering = false;
  private recoverAgain = false;
  private wanted = true;

  constructor(private readonly options: SocketSyncOptions) {
    this.replica = new ConversationReplica(options.name);
    this.socket = io(`${options.baseUrl}/chat`, {
      auth: (cb) => cb({ token: options.token() }),
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    });
    this.socket.on('connect', () => {
      this.replica.note('connected');
      void this.recover();
    });
    this.socket.on('disconnect', (reason) => {
      this.replica.note(`disconnected (${reason})`);
      this.joined = false;
      this.replica.interruptStreams();
    });
    this.socket.on('connect_error', (error) => this.replica.note(`connect_error ${error.message}`));
    this.socket.on('resync', (payload: Json) => {
      if (payload?.conversationIds?.includes(options.conversationId)) void this.recover();
    });
    for (const event of LIVE_EVENTS) {
      this.socket.on(event, (payload: Json) => {
        if (payload?.conversationId !== undefined && payload.conversationId !== options.conversationId) return;
        if (payload?.message && payload.message.conversationId !== options.conversationId) return;
        if (payload?.conversation && payload.conversation.id !== options.conversationId) return;
        if (this.buffer) this.buffer.push({ event, payload });
        // Delivered on a connection that has not joined (yet): its join will recover this.
        else if (this.joined) this.onEvent(event, payload);
      });
    }
  }

  get live(): boolean {
    return this.socket.connected && !this.recovering && !this.buffer && !this.replica.hasGap;
  }

  private onEvent(event: string, payload: Json): void {
    if (applyEvent(this.replica, event, payload, 'io')) void this.recover();
  }

  /** conversation:join {afterVersion}, pages, snapshot, then the buffered events. */
  async recover(): Promise<void> {
    if (this.recovering) {
      this.recoverAgain = true;
      return;
    }
    this.recovering = true;
    try {
      do {
        this.recoverAgain = false;
        if (!this.socket.connected) return;
        await this.joinOnce();
      } while (this.recoverAgain || (this.replica.hasGap && this.socket.connected));
    } finally {
      this.recovering = false;
    }
  }

  private async joinOnce(): Promise<void> {
    const { replica } = this;
    this.buffer ??= [];
    const afterVersion = replica.version;
    let ack: Json;
    try {
      ack = await this.socket.timeout(5_000).emitWithAck('conversation:join', { conversationId: this.options.conversationId, afterVersion });
    } catch (error) {
      // The connection went away with the join: what it delivered has no base to apply to, and
      // the next connection's join recovers all of it.
      replica.note(`join after v${afterVersion} unanswered: ${(error as Error).message}; ${this.buffer?.length ?? 0} buffered events dropped`);
      this.buffer = undefined;
      return;
    }
    if (!ack.ok) {
      replica.note(`join after v${afterVersion} refused: ${JSON.stringify(ack.error)}`);
      const wait = (ack.error?.details?.retryAfterSeconds ?? 0.2) * 1000;
      await new Promise((resolve) => setTimeout(resolve, wait));
      this.recoverAgain = true;
      this.flush();
      return;
    }
    const data = ack.data;
    replica.note(`join after v${afterVersion}: ${data.changes?.length} changes, hasMore ${data.hasMore}, version ${data.version}, activeRun ${data.activeRun ? `${data.activeRun.run.id.slice(0, 8)}@${data.activeRun.index}` : 'none'}`);
    if (!Array.isArray(data.changes) || typeof data.version !== 'number') {
      replica.violation(`join answered without changes/version: ${JSON.stringify(Object.keys(data))}`);
      this.flush();
      return;
    }
    replica.conversation = data.conversation;
    for (const message of data.changes) replica.applyMessage(message, 'join');
    let version: number = data.version;
    if (data.hasMore) {
      const last = data.changes.at(-1)?.version ?? afterVersion;
      version = await readChanges(this.options.baseUrl, this.options.token(), this.options.conversationId, last, (page) => {
        replica.note(`changes page: ${page.items.length} items, hasMore ${page.hasMore}, version ${page.version}`);
        for (const message of page.items) replica.applyMessage(message, 'changes');
      }, this.options.pageLimit);
    }
    replica.settle(version);
    // The answer is one state: a reply streaming at `version` is the active run, with its text.
    const activeRunId: string | undefined = data.activeRun?.run?.id;
    for (const message of data.changes) {
      if (message.status === 'streaming' && !message.deletedAt && message.runId !== activeRunId) {
        replica.violation(`join after v${afterVersion}: reply ${message.id} of run ${message.runId} is streaming at v${data.version}, but activeRun is ${activeRunId ?? 'none'}`, 'join-active-run');
      }
    }
    if (data.activeRun) replica.applySnapshot(data.activeRun, 'join');
    this.joined = this.socket.connected;
    this.flush();
  }

  private flush(): void {
    const pending = this.buffer ?? [];
    this.buffer = undefined;
    if (this.joined) for (const { event, payload } of pending) this.onEvent(event, payload);
  }

  disconnect(): void {
    this.wanted = false;
    this.socket.disconnect();
  }

  drop(): void {
    // Closing the engine looks like a network failure to Socket.IO, which then reconnects itself;
    // during a handshake it would instead leave the manager opening forever.
    if (!this.socket.connected) return;
    (this.socket.io as unknown as { engine?: { close(): void } }).engine?.close();
  }

  connect(): void {
    this.wanted = true;
    if (!this.socket.connected) this.socket.connect();
  }

  get wantsConnection(): boolean {
    return this.wanted;
  }

  close(): void {
    this.wanted = false;
    this.socket.close();
  }
}

/** One event of a text/event-stream, as EventSource dispatches it. */
export interface SseEvent {
  event: string;
  data: string;
  /** The event's own `id:` line; EventSource keeps the last one for Last-Event-ID. */
  id: string | undefined;
}

/** The SSE wire format: events separated by blank lines, `field: value` lines, `:` comments. */
export class SseParser {
  private pending = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    /** A frame with an `id:` and no data: no event, but EventSource takes it as its last event id. */
    private readonly onMark: (id: string) => void = () => undefined,
  ) {}

  push(chunk: string): void {
    this.pending += chunk;
    let newline: number;
    while ((newline = this.pending.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + (this.pending.startsWith('\r\n', newline) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      else if (this.id !== undefined) this.onMark(this.id);
      this.data = [];
      this.event = '';
      this.id = undefined;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}

/**
 * SSE transport, as EventSource behaves: reads GET …/events with fetch, remembers the last
 * `id:`, and reconnects with `Last-Event-ID` (the first connect asks for everything with
 * `?afterVersion=0`). An `id:` is the server's watermark: every change up to it has been sent,
 * so the replica settles there (a replay skips superseded versions, which never come).
 */
export class SseSync implements SyncTransport {
  readonly kind = 'sse';
  readonly replica: ConversationReplica;
  lastEventId: string | undefined;
  private controller: AbortController | undefined;
  private connected = false;
  private wanted = false;
  private generation = 0;

  constructor(private readonly options: SocketSyncOptions) {
    this.replica = new ConversationReplica(options.name);
    this.connect();
  }

  get live(): boolean {
    return this.connected && !this.replica.hasGap;
  }

  connect(): void {
    this.wanted = true;
    if (this.controller) return;
    void this.open();
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    const controller = new AbortController();
    this.controller = controller;
    const { replica } = this;
    const resume = this.lastEventId;
    const query = resume === undefined ? '?afterVersion=0' : '';
    try {
      const response = await fetch(new URL(`/api/v1/conversations/${this.options.conversationId}/events${query}`, this.options.baseUrl), {
        headers: { authorization: `Bearer ${this.options.token()}`, accept: 'text/event-stream', ...(resume !== undefined ? { 'last-event-id': resume } : {}) },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) {
        replica.violation(`SSE open after ${resume ?? 'v0'}: ${response.status} ${await response.text()}`);
        // EventSource gives up on a refused stream rather than hammering the server.
        this.wanted = false;
        return;
      }
      replica.note(`sse open, Last-Event-ID ${resume ?? '(none, afterVersion=0)'}`);
      this.connected = true;
      const parser = new SseParser(
        (event) => this.onEvent(event),
        (id) => this.advance(id, 'mark'),
      );
      const decoder = new TextDecoder();
      for await (const chunk of response.body) parser.push(decoder.decode(chunk as Uint8Array, { stream: true }));
      replica.note('sse ended by the server');
    } catch (error) {
      if (!controller.signal.aborted) replica.note(`sse error: ${(error as Error).message}`);
    } finally {
      if (this.generation === generation) {
        this.connected = false;
        this.controller = undefined;
        replica.interruptStreams();
        // EventSource reconnects by itself after a dropped stream.
        if (this.wanted) setTimeout(() => this.wanted && !this.controller && void this.open(), 50);
      }
    }
  }

  private onEvent(event: SseEvent): void {
    if (event.event === 'session:expired' || event.event === 'conversation:closed') {
      this.replica.violation(`sse ${event.event}: ${event.data}`);
      return;
    }
    let payload: Json;
    try {
      payload = JSON.parse(event.data);
    } catch {
      this.replica.violation(`sse ${event.event}: data is not JSON: ${event.data.slice(0, 100)}`);
      return;
    }
    applyEvent(this.replica, event.event, payload, 'sse');
    if (event.id !== undefined) this.advance(event.id, event.event);
  }

  /** An `id:` is the server's watermark: every change up to it has been sent. */
  private advance(id: string, what: string): void {
    const watermark = Number(id);
    if (!Number.isSafeInteger(watermark) || watermark < 0) {
      this.replica.violation(`sse ${what}: id ${JSON.stringify(id)} is not a version`);
      return;
    }
    if (this.lastEventId !== undefined && watermark < Number(this.lastEventId)) {
      this.replica.violation(`sse ${what}: id went back from ${this.lastEventId} to ${watermark}`);
    }
    this.lastEventId = id;
    this.replica.settle(watermark);
  }

  disconnect(): void {
    this.wanted = false;
    this.controller?.abort();
  }

  drop(): void {
    this.controller?.abort();
  }

  close(): void {
    this.disconnect();
  }
}
