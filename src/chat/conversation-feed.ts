import type { Observable, Subscription } from 'rxjs';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { ChangesPage } from '../messages/messages.service.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { RunSnapshot } from '../agent/run-snapshots.service.js';
import { toClientEvent } from './client-events.js';
import { sendClientEvent, type SseStream } from './sse.js';

/** How long a missing version may stay missing before the feed reads it from the database. */
export const GAP_FILL_MS = 2000;

/** What the feed reads: pages of the changes feed, and the reply streaming now. */
export interface FeedSource {
  /** One page of the changes after afterVersion; without it, none (only the current version). */
  changes(afterVersion: number | undefined): Promise<ChangesPage>;
  activeRun(): Promise<RunSnapshot | null>;
}

/** The conversation version an event announces, if it announces a change. */
function versionOf(event: RealtimeEvent): number | undefined {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
      return event.message.version;
    case 'message.deleted':
    case 'conversation.updated':
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled':
      return event.version;
    default:
      return undefined;
  }
}

/**
 * The SSE feed of one conversation for one user, resumable by `Last-Event-ID`.
 *
 * The event id is a watermark of the conversation's version: every change up to it has reached
 * the client (a message in its state then or a later one). Reconnecting with it, the client gets
 * the current state of every message changed after it — nothing lost; the few repeats carry the
 * same or a newer state of a message, idempotent by id. Changes announced out of order (events of
 * other instances cross the bus at their own pace) hold the watermark at the highest version
 * below which none is missing; a version that stays missing for GAP_FILL_MS is read from the
 * database instead. Live events of changes a replay from the database already covered are
 * dropped, so that an older state never follows the newer one read there.
 */
export class ConversationFeed {
  private watermark = 0;
  /** The version the last replay from the database was read at: events up to it are covered. */
  private replayedThrough = 0;
  /** Versions delivered above the watermark, with a gap below them. */
  private readonly ahead = new Set<number>();
  private subscription: Subscription | undefined;
  /** Live events held while the feed reads from the database; undefined while it is live. */
  private buffered: RealtimeEvent[] | undefined = [];
  private gapTimer: NodeJS.Timeout | undefined;
  private readonly snapshotIndex = new Map<string, number>();

  constructor(
    private readonly stream: SseStream,
    private readonly conversationId: string,
    private readonly userId: string,
    private readonly source: FeedSource,
    private readonly gapFillMs = GAP_FILL_MS,
  ) {}

  /**
   * Listen first, replay the changes after afterVersion (without it, start from the current
   * version), then go live: events raised during the replay are not lost. A `: live` comment
   * then tells the client that every change from here on reaches it.
   */
  async start(events$: Observable<RealtimeEvent>, afterVersion: number | undefined): Promise<void> {
    this.subscription = events$.subscribe((event) => {
      if (event.conversationId !== this.conversationId) return;
      if (this.buffered) this.buffered.push(event);
      else this.deliver(event);
    });
    this.stream.onClose(() => {
      this.subscription?.unsubscribe();
      clearTimeout(this.gapTimer);
    });
    try {
      if (afterVersion === undefined) {
        this.watermark = this.replayedThrough = (await this.source.changes(undefined)).version;
        // A client that reconnects before any change still resumes from here.
        this.stream.mark(this.watermark);
      } else {
        this.watermark = afterVersion;
        await this.replay();
      }
      const snapshot = await this.source.activeRun();
      if (snapshot) {
        this.snapshotIndex.set(snapshot.run.id, snapshot.index);
        this.stream.send('run:snapshot', snapshot);
      }
    } catch {
      // The stream is open: the client reconnects with the last id it got and resumes from there.
      this.stream.close();
      return;
    }
    this.goLive();
    this.stream.comment('live');
  }

  /**
   * Sends the current state of every message changed after the watermark, then the conversation,
   * and moves the watermark to the version all of it was read at.
   */
  private async replay(): Promise<void> {
    const from = this.watermark;
    for (;;) {
      const page = await this.source.changes(this.watermark);
      for (const message of page.items) this.sendState(message);
      if (page.hasMore) {
        this.watermark = page.items.at(-1)!.version;
        continue;
      }
      if (page.version > from) {
        // Title, agent settings and participants change too; they are not in the messages.
        const client = toClientEvent({ type: 'conversation.updated', conversationId: this.conversationId, conversation: page.conversation }, this.userId)!;
        sendClientEvent(this.stream, client);
      }
      this.replayedThrough = page.version;
      this.advanceTo(page.version);
      this.stream.mark(this.watermark);
      return;
    }
  }

  private sendState(message: MessageDto): void {
    if (message.deletedAt) {
      this.stream.send('message:deleted', { conversationId: message.conversationId, messageId: message.id, version: message.version }, message.version);
    } else {
      this.stream.send('message:updated', { message, version: message.version }, message.version);
    }
  }

  private goLive(): void {
    const pending = this.buffered ?? [];
    this.buffered = undefined;
    for (const event of pending) this.deliver(event);
  }

  private deliver(event: RealtimeEvent): void {
    if (event.type === 'conversation.deleted' || (event.type === 'participant.removed' && event.userId === this.userId)) {
      this.stream.send('conversation:closed', { conversationId: this.conversationId });
      this.stream.close();
      return;
    }
    if (event.type === 'run.delta' && event.index <= (this.snapshotIndex.get(event.runId) ?? -1)) return;
    const client = toClientEvent(event, this.userId);
    if (!client) return;
    const version = versionOf(event);
    if (version === undefined) {
      sendClientEvent(this.stream, client);
      return;
    }
    if (version <= this.replayedThrough) return;
    // A version already delivered comes again with the other event of the same change (a reply's
    // message:updated and its run:completed).
    if (version > this.watermark) this.ahead.add(version);
    this.advanceTo(this.watermark);
    sendClientEvent(this.stream, client, this.watermark);
  }

  /** Moves the watermark to `version` and on over the versions delivered after it without a gap. */
  private advanceTo(version: number): void {
    this.watermark = Math.max(this.watermark, version);
    for (const delivered of this.ahead) if (delivered <= this.watermark) this.ahead.delete(delivered);
    while (this.ahead.delete(this.watermark + 1)) this.watermark++;
    if (!this.ahead.size) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    } else {
      this.gapTimer ??= setTimeout(() => void this.fillGap(), this.gapFillMs);
    }
  }

  /** A version that stayed missing: read what changed from the database, holding live events meanwhile. */
  private async fillGap(): Promise<void> {
    this.gapTimer = undefined;
    if (!this.ahead.size || this.stream.closed) return;
    this.buffered = [];
    try {
      await this.replay();
    } catch {
      // The client reconnects with the last id it got and resumes from there.
      this.stream.close();
      return;
    }
    this.goLive();
  }
}
