import type { Observable, Subscription } from 'rxjs';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { RunSnapshot } from './agent-core.service.js';
import { toClientEvent } from './client-events.js';
import type { SseStream } from './sse.js';

/**
 * The SSE feed of one conversation for one user, resumable by `Last-Event-ID`.
 *
 * The event id is a low watermark of the conversation's seq: every message at or below it has
 * reached the client in its final state. Messages still streaming hold the watermark below
 * them, so a client that reconnects with the last id it saw gets every later message again in
 * its current state — nothing lost, and the few repeats are idempotent by message id and seq.
 */
export class ConversationFeed {
  private highest: number;
  private readonly streaming = new Set<number>();
  private subscription: Subscription | undefined;
  private buffered: RealtimeEvent[] | undefined = [];
  private snapshotIndex = new Map<string, number>();

  constructor(
    private readonly stream: SseStream,
    private readonly conversationId: string,
    private readonly userId: string,
    afterSeq: number,
  ) {
    this.highest = afterSeq;
  }

  /** Listen first, replay, then go live: events raised during the replay are not lost. */
  async start(events$: Observable<RealtimeEvent>, replay: () => AsyncGenerator<MessageDto[]>, activeRun: () => Promise<RunSnapshot | null>): Promise<void> {
    this.subscription = events$.subscribe((event) => {
      if (event.conversationId !== this.conversationId) return;
      if (this.buffered) this.buffered.push(event);
      else this.deliver(event);
    });
    this.stream.onClose(() => this.subscription?.unsubscribe());
    for await (const page of replay()) for (const message of page) this.sendMessage('message:created', message);
    const snapshot = await activeRun();
    if (snapshot) {
      this.snapshotIndex.set(snapshot.run.id, snapshot.index);
      this.stream.send('run:snapshot', snapshot);
    }
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
    // Already sent by the replay.
    if (event.type === 'message.created' && event.message.seq <= this.highest) return;
    const client = toClientEvent(event, this.userId);
    if (!client) return;
    if (event.type === 'message.created' || event.type === 'message.updated') this.sendMessage(client.name, event.message);
    else this.stream.send(client.name, client.payload);
  }

  private sendMessage(name: string, message: MessageDto): void {
    if (message.status === 'streaming') this.streaming.add(message.seq);
    else this.streaming.delete(message.seq);
    this.highest = Math.max(this.highest, message.seq);
    const watermark = this.streaming.size ? Math.min(...this.streaming) - 1 : this.highest;
    this.stream.send(name, { message }, watermark);
  }
}
