import type { RestClient } from '../rest.js';
import { emitAck, type ChatSocket } from '../socket.js';
import type { Ack, JoinResult } from '../wire.js';
import { readChanges } from './changes.js';
import { applyServerEvent, SYNC_EVENTS, type ServerEventFrame } from './events.js';
import { ConversationState, type SyncObserver } from './state.js';

export interface ConversationSyncOptions {
  socket: ChatSocket;
  /** Pages GET …/changes when a join answers `hasMore`. */
  rest: RestClient;
  conversationId: string;
  /** The state to keep up to date (default: a new one). */
  state?: ConversationState;
  observer?: SyncObserver;
  /** Page size of GET …/changes. */
  pageLimit?: number;
  ackTimeoutMs?: number;
  /** Called after anything changed the state. */
  onChange?: (state: ConversationState) => void;
  /** Called when the server refuses the join for good (NOT_FOUND, FORBIDDEN, VALIDATION): the sync stops. */
  onError?: (error: JoinError) => void;
  /** First delay before joining again after a failed join, doubled on each failure in a row up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export type JoinError = Extract<Ack, { ok: false }>['error'];

/** Refusals that joining again cannot change. */
const FINAL_REFUSALS: readonly string[] = ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION'];

/**
 * Keeps one conversation's state in sync over a Socket.IO connection: joins with `afterVersion`
 * on every connect, buffers live events until the join is applied, pages the rest over REST
 * while `hasMore`, and joins again on a version gap or a `resync` naming the conversation.
 */
export class ConversationSync {
  readonly state: ConversationState;
  private buffer: ServerEventFrame[] | undefined;
  /** Whether the current connection's join was answered: live events apply from then on. */
  private joined = false;
  private recovering = false;
  private recoverAgain = false;
  private closed = false;
  private failures = 0;
  /** Ends the wait before the next join early (close). */
  private wake: (() => void) | undefined;
  private refusal: JoinError | undefined;
  private readonly detach: (() => void)[] = [];

  constructor(private readonly options: ConversationSyncOptions) {
    this.state = options.state ?? new ConversationState(options.observer);
    this.listen('connect', () => void this.recover());
    this.listen('disconnect', () => {
      this.joined = false;
      this.state.interruptStreams();
    });
    this.listen('resync', (payload: { conversationIds: string[] }) => {
      if (payload.conversationIds.includes(options.conversationId)) void this.recover();
    });
    for (const event of SYNC_EVENTS) this.listen(event, (payload: unknown) => this.onLive({ event, payload } as ServerEventFrame));
    if (options.socket.connected) void this.recover();
  }

  private listen<P>(event: string, handler: (payload: P) => void): void {
    const socket = this.options.socket as unknown as { on(event: string, h: (p: P) => void): void; off(event: string, h: (p: P) => void): void };
    socket.on(event, handler);
    this.detach.push(() => socket.off(event, handler));
  }

  /** Connected, joined, and holding every change announced so far. */
  get live(): boolean {
    return this.options.socket.connected && this.joined && !this.recovering && !this.buffer && !this.state.hasGap;
  }

  /** Why the server refused the join for good, once it has: the sync has stopped. */
  get error(): JoinError | undefined {
    return this.refusal;
  }

  private get stopped(): boolean {
    return this.closed || this.refusal !== undefined;
  }

  private onLive(frame: ServerEventFrame): void {
    if (!this.concerns(frame)) return;
    if (this.buffer) this.buffer.push(frame);
    // Delivered on a connection that has not joined (yet): its join will recover this.
    else if (this.joined) this.apply(frame);
  }

  private concerns({ payload }: ServerEventFrame): boolean {
    const id = this.options.conversationId;
    if ('conversationId' in payload && payload.conversationId !== undefined) return payload.conversationId === id;
    if ('message' in payload && payload.message) return payload.message.conversationId === id;
    if ('conversation' in payload) return payload.conversation.id === id;
    if ('run' in payload) return payload.run.conversationId === id;
    return true;
  }

  private apply(frame: ServerEventFrame): void {
    if (applyServerEvent(this.state, frame, 'io')) void this.recover();
    this.options.onChange?.(this.state);
  }

  /** Joins (again) after the last version held, until nothing is missing. */
  async recover(): Promise<void> {
    if (this.stopped) return;
    if (this.recovering) {
      this.recoverAgain = true;
      return;
    }
    this.recovering = true;
    try {
      do {
        this.recoverAgain = false;
        if (!this.options.socket.connected) return;
        const retryInMs = await this.joinOnce();
        if (retryInMs !== undefined) {
          await this.sleep(retryInMs);
          this.recoverAgain = true;
        }
      } while (!this.stopped && (this.recoverAgain || (this.state.hasGap && this.options.socket.connected)));
    } finally {
      this.recovering = false;
    }
  }

  /** One join and its paging; resolves the delay before joining again when it failed in a way that may pass. */
  private async joinOnce(): Promise<number | undefined> {
    const { state, options } = this;
    // Until this join is applied nothing is known to be complete: live events wait in the buffer.
    this.joined = false;
    this.buffer = [];
    const afterVersion = state.version;
    let ack;
    try {
      ack = await emitAck(options.socket, 'conversation:join', { conversationId: options.conversationId, afterVersion }, { timeoutMs: options.ackTimeoutMs ?? 10_000 });
    } catch (error) {
      // What was buffered has no base to apply to; the next join recovers all of it. Still connected,
      // the server was slow: join again. Disconnected: the next connection joins.
      this.discard(`join after v${afterVersion} unanswered: ${(error as Error).message}`);
      return options.socket.connected ? this.backoff() : undefined;
    }
    if (this.closed) return undefined;
    if (!ack.ok) {
      this.discard(`join after v${afterVersion} refused: ${JSON.stringify(ack.error)}`);
      return this.refused(ack.error);
    }
    try {
      await this.applyJoin(afterVersion, ack.data);
    } catch (error) {
      this.discard(`join after v${afterVersion} not applied: ${(error as Error).message}`);
      return this.backoff();
    }
    this.failures = 0;
    this.flush();
    return undefined;
  }

  private discard(reason: string): void {
    this.state.note(`${reason}; ${this.buffer?.length ?? 0} buffered events dropped`);
    this.buffer = undefined;
    this.joined = false;
  }

  /** A refused join: after the server's delay when rate limited, never when it cannot pass, else with backoff. */
  private refused(error: JoinError): number | undefined {
    if (error.code === 'RATE_LIMITED') {
      const details = error.details as { retryAfterSeconds?: number } | undefined;
      return (details?.retryAfterSeconds ?? 1) * 1000;
    }
    if (!FINAL_REFUSALS.includes(error.code)) return this.backoff();
    this.refusal = error;
    this.options.onError?.(error);
    return undefined;
  }

  private backoff(): number {
    const first = this.options.retryDelayMs ?? 500;
    const delay = Math.min(first * 2 ** this.failures, this.options.maxRetryDelayMs ?? 30_000);
    this.failures++;
    // Jitter: clients that failed together do not all come back at the same moment.
    return delay * (0.5 + Math.random() / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** The join's answer is one state: the changes (paged to the end), its version, and the reply streaming then. */
  private async applyJoin(afterVersion: number, data: JoinResult): Promise<void> {
    const { state, options } = this;
    const active = data.activeRun;
    state.note(`join after v${afterVersion}: ${data.changes?.length} changes, hasMore ${data.hasMore}, version ${data.version}, activeRun ${active ? `${active.run.id.slice(0, 8)}@${active.index}` : 'none'}`);
    if (!Array.isArray(data.changes) || typeof data.version !== 'number') {
      state.anomaly('join-answer', `join answered without changes/version: ${JSON.stringify(Object.keys(data))}`);
      throw new Error('malformed join answer');
    }
    state.conversation = data.conversation;
    for (const message of data.changes) state.applyMessage(message, 'join');
    let version = data.version;
    if (data.hasMore) {
      const last = data.changes.at(-1)?.version ?? afterVersion;
      version = await readChanges(options.rest, options.conversationId, last, (page) => {
        state.note(`changes page: ${page.items.length} items, hasMore ${page.hasMore}, version ${page.version}`);
        for (const message of page.items) state.applyMessage(message, 'changes');
      }, options.pageLimit);
    }
    state.settle(version);
    for (const message of data.changes) {
      if (message.status === 'streaming' && !message.deletedAt && message.runId !== active?.run.id) {
        state.anomaly('join-active-run', `join after v${afterVersion}: reply ${message.id} of run ${message.runId} is streaming at v${data.version}, but activeRun is ${active?.run.id ?? 'none'}`);
      }
    }
    if (active) state.applySnapshot(active, 'join');
    this.joined = options.socket.connected;
    options.onChange?.(state);
  }

  private flush(): void {
    const pending = this.buffer ?? [];
    this.buffer = undefined;
    if (this.joined) for (const frame of pending) this.apply(frame);
  }

  /** Stops following the conversation, joins pending or due included (the socket stays as it is). */
  close(): void {
    this.closed = true;
    this.wake?.();
    for (const off of this.detach.splice(0)) off();
  }
}
