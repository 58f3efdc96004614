import type { ConversationDto, MessageDto, RunSnapshot } from '../wire.js';

/** A message deleted before this client saw it: that it is gone, and since which version, is all there is. */
export interface Tombstone {
  id: string;
  conversationId: string;
  version: number;
  deletedAt: string;
}

/** The newest copy of a message the client holds: the server's, or a tombstone. */
export type SyncedMessage = MessageDto | Tombstone;

export function isTombstone(message: SyncedMessage): message is Tombstone {
  return !('seq' in message);
}

export function isDeleted(message: SyncedMessage): boolean {
  return message.deletedAt !== null;
}

/** What two copies of one version of a message must agree on (a deleted one: its id and version). */
export function comparable(message: SyncedMessage): Record<string, unknown> {
  if (isTombstone(message) || isDeleted(message)) return { id: message.id, deleted: true, version: message.version };
  const { id, seq, role, authorId, content, status, runId, version, metadata, editedAt } = message;
  return { id, seq, role, authorId, content, status, runId, version, metadata, editedAt };
}

/** A reply as it streams: the text of its deltas 0..index. */
export interface ReplyText {
  text: string;
  /** Index of the last delta in `text`; -1 before the first. */
  index: number;
  /** False once a delta was missed: the text is incomplete until the final message replaces it. */
  exact: boolean;
}

/** Something a well-behaved server never does. The state stays safe; the observer may log it. */
export type SyncAnomaly = 'missing-version' | 'version-conflict' | 'snapshot-conflict' | 'delta-gap' | 'stream-text' | 'join-answer' | 'join-active-run';

export interface SyncObserver {
  /** A line of what the state did, for debugging. */
  note?(line: string): void;
  anomaly?(kind: SyncAnomaly, detail: string): void;
}

/**
 * One conversation as a client holds it, by the recovery rules ("Sync: versions"): messages by
 * id at the version of their last change (an older copy never replaces a newer one), the highest
 * version up to which every change is held, and replies streamed from a snapshot plus deltas
 * (by index, never twice) until the final message replaces the streamed text.
 */
export class ConversationState {
  readonly messages = new Map<string, SyncedMessage>();
  conversation: ConversationDto | undefined = undefined;
  /** Every change up to this version is held. */
  version = 0;
  /** Versions seen above `version` (out of order, or after a gap). */
  private readonly ahead = new Set<number>();
  /** Replies streaming now, by run id. */
  readonly streams = new Map<string, ReplyText>();
  /** Runs whose reply reached its final state: their late deltas are ignored without a scan of the messages. */
  private readonly finishedRuns = new Set<string>();

  constructor(private readonly observer: SyncObserver = {}) {}

  note(line: string): void {
    this.observer.note?.(line);
  }

  /** Reports what a well-behaved server never does. */
  anomaly(kind: SyncAnomaly, detail: string): void {
    this.note(`ANOMALY ${detail}`);
    this.observer.anomaly?.(kind, detail);
  }

  /** Keeps a message's state if it is newer than the one held; true when it was. */
  applyMessage(message: MessageDto, via = 'event'): boolean {
    if (typeof message.version !== 'number') {
      this.anomaly('missing-version', `${via}: message ${message.id} has no version`);
      return false;
    }
    const known = this.messages.get(message.id);
    if (known && known.version >= message.version) {
      if (known.version === message.version && JSON.stringify(comparable(known)) !== JSON.stringify(comparable(message))) {
        this.anomaly('version-conflict', `${via}: message ${message.id} v${message.version} differs from an earlier copy of the same version`);
      }
      return false;
    }
    this.messages.set(message.id, message);
    if (message.runId && message.status !== 'streaming') this.finishedRuns.add(message.runId);
    this.note(`${via} ${message.id.slice(0, 8)} #${message.seq} v${message.version} ${isDeleted(message) ? 'deleted' : message.status} ${JSON.stringify(message.content.slice(0, 24))}`);
    if (message.runId && !isDeleted(message) && message.status !== 'streaming') this.endStream(message);
    return true;
  }

  applyDeletion(messageId: string, conversationId: string, version: number, via = 'event'): boolean {
    const known = this.messages.get(messageId);
    if (known && known.version >= version) return false;
    const deletedAt = (known?.deletedAt ?? null) || new Date().toISOString();
    this.messages.set(messageId, known && !isTombstone(known) ? { ...known, version, content: '', deletedAt } : { id: messageId, conversationId, version, deletedAt });
    this.note(`${via} ${messageId.slice(0, 8)} v${version} deleted`);
    return true;
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

  /** The text streamed so far of a reply, as recovery tells it; true when it was taken. */
  applySnapshot(snapshot: RunSnapshot, via = 'join'): boolean {
    const runId = snapshot.run.id;
    const current = this.streams.get(runId);
    if (current && current.exact && current.index >= snapshot.index) {
      if (!current.text.startsWith(snapshot.content)) {
        this.anomaly('snapshot-conflict', `${via}: snapshot of run ${runId} at index ${snapshot.index} disagrees with the ${current.index + 1} deltas already applied`);
      }
      return false;
    }
    this.streams.set(runId, { text: snapshot.content, index: snapshot.index, exact: true });
    this.note(`${via} snapshot run ${runId.slice(0, 8)} index ${snapshot.index} (${snapshot.content.length} chars)`);
    return true;
  }

  /** A live delta; applied (true) only when it continues the text, never twice. */
  applyDelta(delta: { runId: string; index: number; text: string }, via = 'event'): boolean {
    const { runId } = delta;
    if (this.finishedRuns.has(runId)) return false;
    const stream = this.streams.get(runId) ?? { text: '', index: -1, exact: true };
    this.streams.set(runId, stream);
    if (delta.index <= stream.index) return false;
    if (delta.index > stream.index + 1) {
      // Only possible when deltas were lost on a live connection: the final message (or the next
      // recovery's snapshot) repairs the text.
      this.anomaly('delta-gap', `${via}: run ${runId} delta ${delta.index} after ${stream.index}: deltas missing on a live connection`);
      stream.exact = false;
    }
    stream.text += delta.text;
    stream.index = delta.index;
    return true;
  }

  /** A reply reached its final state: its message replaces the streamed text. */
  private endStream(message: MessageDto): void {
    const stream = this.streams.get(message.runId!);
    if (!stream) return;
    this.streams.delete(message.runId!);
    if (stream.exact && stream.text !== message.content) {
      this.anomaly('stream-text', `run ${message.runId}: streamed ${JSON.stringify(stream.text)} (index ${stream.index}) but the final reply is ${JSON.stringify(message.content)}`);
    }
  }

  /** A reconnect lost the live stream: what was streamed is incomplete until the next snapshot. */
  interruptStreams(): void {
    this.streams.clear();
  }

  dropStream(runId: string): void {
    this.streams.delete(runId);
  }

  /** The messages to show, in conversation order (deleted ones left out). */
  visibleMessages(): MessageDto[] {
    const shown = [...this.messages.values()].filter((m): m is MessageDto => !isTombstone(m) && !isDeleted(m));
    return shown.sort((a, b) => a.seq - b.seq);
  }
}
