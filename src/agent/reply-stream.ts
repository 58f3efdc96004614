import type { AgentSettings } from '../config/agent.config.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity } from '../messages/message.entity.js';
import type { MessagesRepository } from '../messages/messages.repository.js';
import type { RealtimeBus } from '../realtime/realtime-bus.js';
import { RunDto } from './dto/run.dto.js';
import { RunEntity } from './run.entity.js';

/** The text of deltas 0..index of a run (index -1: none yet). */
export interface StreamPosition {
  content: string;
  index: number;
}

/**
 * One run's reply as it streams: the assistant message it streams into, its deltas on the bus
 * (gap-free index, coalesced to at most one per AGENT_DELTA_INTERVAL_MS) and the checkpoints of
 * its text into that message (every AGENT_CHECKPOINT_MS).
 */
export class ReplyStream {
  /** The assistant message the reply streams into; empty until it is opened. */
  messageId = '';
  /** The text published so far (what `index` covers). */
  content = '';
  /** Index of the last delta published; -1 before the first. */
  index = -1;
  /** Text received but not yet published. */
  private pending = '';
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastCheckpoint = Date.now();
  private opening: Promise<boolean> | undefined;
  private written: MessageEntity | undefined;

  constructor(
    private run: RunEntity,
    private readonly messages: MessagesRepository,
    private readonly bus: RealtimeBus,
    private readonly settings: Pick<AgentSettings, 'deltaIntervalMs' | 'checkpointMs'>,
  ) {}

  get position(): StreamPosition {
    return { content: this.content, index: this.index };
  }

  /** No text of the reply has been published, nor is any waiting to be. */
  get untouched(): boolean {
    return this.index === -1 && !this.pending;
  }

  /**
   * Writes the assistant message the reply streams into and announces the run (message:created,
   * run:started), once — callers at the same time share that one write. False if the conversation
   * is gone.
   */
  open(): Promise<boolean> {
    if (this.messageId) return Promise.resolve(true);
    if (this.written) {
      this.opened(this.written);
      return Promise.resolve(true);
    }
    this.opening ??= this.write().finally(() => (this.opening = undefined));
    return this.opening;
  }

  /** The reply was written with the run (claimed with its message): open() announces it, writing nothing. */
  adopt(reply: MessageEntity): void {
    this.written = reply;
  }

  /** Whether open() has a reply to write. */
  get unwritten(): boolean {
    return !this.messageId && !this.written;
  }

  private async write(): Promise<boolean> {
    const { run } = this;
    const reply = await this.messages.appendReply({ conversationId: run.conversationId, runId: run.id, metadata: { model: run.model } });
    if (!reply) return false;
    this.opened(reply);
    return true;
  }

  private opened(reply: MessageEntity): void {
    const { run } = this;
    this.messageId = reply.id;
    this.run = Object.assign(new RunEntity(), run, { responseMessageId: reply.id });
    this.bus.publish({ type: 'message.created', conversationId: run.conversationId, message: MessageDto.from(reply) });
    this.bus.publish({ type: 'run.started', conversationId: run.conversationId, run: RunDto.from(this.run) });
  }

  /**
   * Takes up the reply of a run resumed after its approvals, where its deltas stopped, and
   * announces the run again (run:started, now running).
   */
  reattach(messageId: string, position: StreamPosition): void {
    this.messageId = messageId;
    this.content = position.content;
    this.index = position.index;
    this.bus.publish({ type: 'run.started', conversationId: this.run.conversationId, run: RunDto.from(this.run) });
  }

  /** The first delta goes out at once; later ones at most every AGENT_DELTA_INTERVAL_MS, text merged. */
  addText(text: string): void {
    this.pending += text;
    const wait = this.lastFlush + this.settings.deltaIntervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), wait);
  }

  /** Publishes the pending text as the next delta. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    this.content += text;
    this.index += 1;
    this.lastFlush = Date.now();
    // The reply's first text is out: the run's time to first token, for analytics only (a lost write must not fail the reply).
    if (this.index === 0) this.messages.recordFirstToken(this.run.id).catch(() => undefined);
    this.bus.publish({ type: 'run.delta', conversationId: this.run.conversationId, runId: this.run.id, index: this.index, text });
  }

  /** Stores the published text with the index of its last delta (the pending text is in neither), when one is due. */
  async checkpointIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheckpoint < this.settings.checkpointMs) return;
    this.lastCheckpoint = now;
    await this.messages.checkpointReply(this.messageId, this.content, this.index);
  }
}
