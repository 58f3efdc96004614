import {
  applyServerEvent,
  type ChatSocket,
  comparable,
  connectChat,
  ConversationState,
  ConversationSync,
  createClient,
  isTombstone,
  type RunSnapshot,
  type ServerEventFrame,
  type SyncedMessage,
} from '@agent-chat/client';

/**
 * The suites' clients of a conversation. The recovery rules of DESIGN.md ("Sync: versions") are
 * the client package's (ConversationState, ConversationSync); this adds what a test needs on top:
 * a trace, every broken promise of the server recorded as a violation instead of hidden, delta
 * accounting, and transports that can be dropped and brought back on command.
 */

// Payloads are the server's JSON; the suites read only the fields the contract names.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

const ignoredViolations = new Set((process.env.SYNC_IGNORE ?? '').split(',').filter(Boolean));

export class ConversationReplica extends ConversationState {
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  deltasApplied = 0;
  deltasSkipped = 0;
  /** Delta indexes held for each streaming run (from its snapshot and deltas): none may come twice. */
  private readonly appliedDeltas = new Map<string, Set<number>>();

  constructor(readonly name: string) {
    super();
  }

  override note(line: string): void {
    this.trace.push(`${new Date().toISOString().slice(17, 23)} ${line}`);
  }

  /** The package reports what a well-behaved server never does: here that fails the run. */
  override anomaly(kind: string, detail: string): void {
    this.violation(detail, kind);
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

  override applySnapshot(snapshot: RunSnapshot, via?: string): boolean {
    const taken = super.applySnapshot(snapshot, via);
    if (taken) this.appliedDeltas.set(snapshot.run.id, new Set(Array.from({ length: snapshot.index + 1 }, (_, i) => i)));
    return taken;
  }

  override applyDelta(delta: { runId: string; index: number; text: string }, via = 'event'): boolean {
    if (!super.applyDelta(delta, via)) {
      this.deltasSkipped++;
      return false;
    }
    this.deltasApplied++;
    const applied = this.appliedDeltas.get(delta.runId) ?? new Set<number>();
    this.appliedDeltas.set(delta.runId, applied);
    if (applied.has(delta.index)) this.violation(`${via}: run ${delta.runId} delta ${delta.index} applied twice`, 'delta-twice');
    applied.add(delta.index);
    return true;
  }

  override interruptStreams(): void {
    super.interruptStreams();
    this.appliedDeltas.clear();
  }

  override dropStream(runId: string): void {
    super.dropStream(runId);
    this.appliedDeltas.delete(runId);
  }

  /** The replica's messages in seq order (a message deleted before it was seen first), tombstones included. */
  snapshot(): Json[] {
    const seq = (message: SyncedMessage) => (isTombstone(message) ? -1 : message.seq);
    return [...this.messages.values()].sort((a, b) => seq(a) - seq(b) || a.id.localeCompare(b.id)).map(comparable);
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

export interface SocketSyncOptions {
  baseUrl: string;
  token: () => string;
  conversationId: string;
  name: string;
  /** Page size of GET …/changes when a join answers hasMore. */
  pageLimit?: number;
}

/** The package's ConversationSync on a socket of its own, which the suites drop and bring back. */
export class SocketSync implements SyncTransport {
  readonly kind = 'socket';
  readonly replica: ConversationReplica;
  readonly socket: ChatSocket;
  private readonly sync: ConversationSync;
  private wanted = true;

  constructor(options: SocketSyncOptions) {
    this.replica = new ConversationReplica(options.name);
    this.socket = connectChat({
      baseUrl: options.baseUrl,
      getToken: options.token,
      socket: { forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 },
    });
    this.socket.on('connect', () => this.replica.note('connected'));
    this.socket.on('disconnect', (reason) => this.replica.note(`disconnected (${reason})`));
    this.socket.on('connect_error', (error) => this.replica.note(`connect_error ${error.message}`));
    this.sync = new ConversationSync({
      socket: this.socket,
      rest: createClient({ baseUrl: options.baseUrl, getToken: options.token }),
      conversationId: options.conversationId,
      state: this.replica,
      ...(options.pageLimit ? { pageLimit: options.pageLimit } : {}),
      ackTimeoutMs: 5_000,
    });
  }

  get live(): boolean {
    return this.sync.live;
  }

  recover(): Promise<void> {
    return this.sync.recover();
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
    this.sync.close();
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
    applyServerEvent(this.replica, { event: event.event, payload } as ServerEventFrame, 'sse');
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
