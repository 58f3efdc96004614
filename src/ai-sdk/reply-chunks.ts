import type { JSONValue, UIMessageChunk } from 'ai';
import type { RunSnapshot } from '../agent/run-snapshots.service.js';
import type { RunDto } from '../agent/dto/run.dto.js';
import { citationsOf } from '../agent/tools/citations.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import { type MessageSource, sourceId, SourceList } from '../messages/message-source.js';
import type { ApprovalStatus } from '../approvals/approval.entity.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';

export type ChunkSink = (chunk: UIMessageChunk) => void;

type ToolEvent = Extract<RealtimeEvent, { type: 'run.tool' }>;

/** A tool call of a run as its `run:tool` events tell it: started, or ended with its result. */
export type RecordedCall = Pick<ToolEvent, 'callId' | 'name' | 'status' | 'args' | 'result'>;
export type ToolCall = { callId: string; name: string; args?: unknown; result?: unknown; error?: string };

/** A tool call's approval, as far as the stream knows it. */
export interface CallApproval {
  id: string;
  toolCallId: string;
  status: ApprovalStatus;
}

/** A reply whose run paused for approvals: where it stood then, and the calls that wait. */
export interface PausedReply {
  run: RunDto;
  content: string;
  /** The index of the last delta of `content`. */
  index: number;
  toolCalls: ToolCall[];
  sources: MessageSource[];
  waiting: { toolCallId: string; toolName: string; input: unknown }[];
  /** Every approval of the run, decided or not. */
  approvals: CallApproval[];
}

/** What a client answering approvals already holds of the reply it continues. */
export interface Delivered {
  content: string;
  /** The index of the last delta of `content`; unknown, the rest of the text comes with the reply's end. */
  index?: number;
  /** The calls it shows, and those of them with an outcome. */
  toolCallIds: readonly string[];
  settledIds: readonly string[];
  sources: readonly MessageSource[];
}

/** Our ids, seq and version of a message, without its text (the stream carries that). */
export function messagePart(message: MessageDto): UIMessageChunk {
  const { id, conversationId, seq, version, role, status, clientMessageId, runId } = message;
  return { type: 'data-message', id, data: { id, conversationId, seq, version, role, status, clientMessageId, runId } };
}

function runPart(run: RunDto): UIMessageChunk {
  return { type: 'data-run', id: run.id, data: run };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

/**
 * A source as the AI SDK shows it: a `source-document` (sources are documents and messages, neither
 * has a URL of its own), the whole source under `providerMetadata.agentChat`. A document's passage
 * is `<document id>#<chunk>`, titled with its filename; a message is its id, titled with its
 * conversation's title and position.
 */
export function sourceChunk(source: MessageSource): UIMessageChunk {
  const document = source.type === 'document';
  return {
    type: 'source-document',
    sourceId: sourceId(source),
    mediaType: document ? (source.mediaType ?? 'application/octet-stream') : 'text/markdown',
    title: document || source.seq === undefined ? source.title : `${source.title} #${source.seq}`,
    ...(document && { filename: source.title }),
    providerMetadata: { agentChat: source as unknown as Record<string, JSONValue> },
  };
}

const REFUSED: ReadonlySet<ApprovalStatus> = new Set<ApprovalStatus>(['denied', 'expired']);

function terminalChunk(run: RunDto): UIMessageChunk {
  if (run.status === 'completed') return { type: 'finish', finishReason: 'stop' };
  if (run.status === 'cancelled') return { type: 'abort', reason: 'cancelled' };
  return { type: 'error', errorText: run.error?.message ?? `The reply ended as ${run.status}` };
}

/** The answer to a message the agent does not reply to: no text, only the stored message. */
export function unansweredChunks(message: MessageDto): UIMessageChunk[] {
  return [{ type: 'start' }, messagePart(message), { type: 'finish', finishReason: 'other' }];
}

/**
 * One run's reply as UI message stream chunks, from `start` to `finish` (or `error` / `abort`),
 * built from where it stands (a snapshot, its pause, or its persisted end) and its live events.
 *
 * Deltas are taken in index order only: a repeated one is dropped, and after a gap the rest of
 * the text comes from the final reply instead, so the client's text always equals the persisted
 * one. Tool calls and text missed before a snapshot are filled in the same way at the end.
 *
 * A run that pauses for approvals ends the stream as the AI SDK's own server does: each waiting
 * call as a tool part with a `tool-approval-request` (our approval's id), then `finish`. The
 * client's answer continues the same message: only what comes after the pause is sent then, the
 * decided calls' outcomes first (a refused one as `tool-output-denied`).
 */
export class ReplyChunks {
  private opened = false;
  private ended = false;
  /** Continuing a message the client holds: no replay, and its first step is opened when needed. */
  private continuing = false;
  private stepOpen = false;
  private textId: string | undefined;
  private texts = 0;
  private streamed = '';
  private nextIndex = 0;
  private gapped = false;
  private toolOutputInStep = false;
  private readonly announced = new Set<string>();
  private readonly settled = new Set<string>();
  private readonly requested = new Set<string>();
  private readonly approvals = new Map<string, CallApproval>();
  private readonly sources = new SourceList();
  private final: MessageDto | undefined;

  constructor(
    private readonly emit: ChunkSink,
    private readonly runId: string,
    /** The user message the run answers, sent right after `start` (POST only). */
    private readonly userMessage?: MessageDto,
  ) {}

  get done(): boolean {
    return this.ended;
  }

  /** Whether this event tells that the run paused (its calls' details are to be read). */
  pausedBy(event: RealtimeEvent): boolean {
    return event.type === 'approval.requested' && event.approval.runId === this.runId && !this.ended;
  }

  /** The approvals of the run's calls: an approval's call is shown with its request, a refused one as denied. */
  know(approvals: readonly CallApproval[]): void {
    for (const approval of approvals) this.approvals.set(approval.toolCallId, approval);
  }

  /** The client holds the reply up to here (it answers approvals): nothing of it is sent again. */
  continueFrom({ content, index, toolCallIds, settledIds, sources }: Delivered): void {
    this.continuing = true;
    this.streamed = content;
    if (index === undefined) this.gapped = true;
    else this.nextIndex = index + 1;
    for (const id of toolCallIds) {
      this.announced.add(id);
      this.requested.add(id);
    }
    for (const id of settledIds) this.settled.add(id);
    this.sources.add(sources);
  }

  /**
   * A streaming reply as it stands: the calls it has made (each as its live event would show it),
   * then its text so far as one delta. Where text came before a call, the order is the paused
   * path's: calls first (nothing records when each piece of text came).
   */
  resume({ run, content, index }: RunSnapshot, calls: readonly RecordedCall[] = []): void {
    // Not yet opened: nothing was streamed, and run.started is still to come.
    if (!run.responseMessageId) return;
    this.open(run);
    for (const call of calls) this.tool(call);
    this.catchUpText(content, index);
  }

  /**
   * The reply as it stood when its run paused: what the client lacks of it, then each waiting call
   * with its approval request; `end` (the run still waits) finishes the message there.
   */
  pause(paused: PausedReply, { end }: { end: boolean }): void {
    if (this.ended) return;
    this.know(paused.approvals);
    this.open(paused.run);
    this.catchUpCalls(paused.toolCalls);
    this.catchUpText(paused.content, paused.index);
    this.cite(paused.sources);
    for (const { toolCallId, toolName, input } of paused.waiting) this.announceTool(toolCallId, toolName, input);
    if (!end) return;
    this.closeText();
    this.emit(runPart(paused.run));
    if (this.stepOpen) this.emit({ type: 'finish-step' });
    this.emit({ type: 'finish', finishReason: 'tool-calls' });
    this.ended = true;
  }

  event(event: RealtimeEvent): void {
    if (this.ended) return;
    switch (event.type) {
      case 'run.started':
        if (event.run.id === this.runId) this.open(event.run);
        break;
      case 'run.delta':
        if (event.runId === this.runId) this.delta(event.index, event.text);
        break;
      case 'run.tool':
        if (event.runId === this.runId && this.opened) this.tool(event);
        break;
      case 'approval.requested':
      case 'approval.resolved':
        if (event.approval.runId === this.runId) this.know([event.approval]);
        break;
      case 'message.updated':
        // The reply's final state comes just before run.failed / run.cancelled, which do not carry it.
        if (event.message.runId === this.runId && event.message.role === 'assistant') this.final = event.message;
        break;
      case 'run.completed':
        if (event.run.id === this.runId) this.settle(event.run, event.message);
        break;
      case 'run.failed':
      case 'run.cancelled':
        if (event.run.id === this.runId) this.settle(event.run, this.final ?? null);
        break;
      default:
        break;
    }
  }

  /** The run has ended with this reply: whatever the client lacks of it, then the terminal chunk. */
  settle(run: RunDto, reply: MessageDto | null): void {
    if (this.ended) return;
    this.open(run);
    this.catchUpCalls((reply?.metadata.toolCalls ?? []) as ToolCall[]);
    const content = reply?.content ?? '';
    if (content.startsWith(this.streamed) && content.length > this.streamed.length) this.appendText(content.slice(this.streamed.length));
    this.closeText();
    this.cite(reply?.metadata.sources ?? []);
    if (reply) this.emit(messagePart(reply));
    this.emit(runPart(run));
    if (this.stepOpen) this.emit({ type: 'finish-step' });
    this.emit(terminalChunk(run));
    this.ended = true;
  }

  private open(run: RunDto): void {
    if (this.opened) return;
    this.opened = true;
    this.emit(run.responseMessageId ? { type: 'start', messageId: run.responseMessageId } : { type: 'start' });
    if (!this.continuing) {
      this.emit({ type: 'start-step' });
      this.stepOpen = true;
    }
    if (this.userMessage) this.emit(messagePart(this.userMessage));
    this.emit(runPart(run));
  }

  /** Missed calls are shown as one step: all their inputs, then all their outcomes. */
  private catchUpCalls(calls: readonly ToolCall[]): void {
    for (const { callId, name, args } of calls) this.announceTool(callId, name, args);
    for (const { callId, result, error } of calls) this.settleTool(callId, error !== undefined ? { errorText: error } : { output: result });
  }

  /** The text so far (up to delta `index`): the part of it not streamed yet; live deltas go on from there. */
  private catchUpText(content: string, index: number): void {
    if (this.gapped || !content.startsWith(this.streamed)) {
      this.gapped = true;
      return;
    }
    if (content.length > this.streamed.length) this.appendText(content.slice(this.streamed.length));
    this.nextIndex = Math.max(this.nextIndex, index + 1);
  }

  private delta(index: number, delta: string): void {
    if (this.gapped || index < this.nextIndex) return;
    if (!this.opened || index > this.nextIndex) {
      this.gapped = true;
      return;
    }
    this.nextIndex = index + 1;
    this.appendText(delta);
  }

  private tool({ callId, name, status, args, result }: RecordedCall): void {
    this.announceTool(callId, name, args);
    if (status === 'completed') {
      this.settleTool(callId, { output: result });
      this.cite(citationsOf(name, result));
    }
    else if (status === 'failed') this.settleTool(callId, { errorText: text((result as { error?: unknown } | undefined)?.error) ?? 'The tool failed' });
  }

  private announceTool(callId: string, name: string, input: unknown): void {
    if (!this.announced.has(callId)) {
      this.announced.add(callId);
      this.nextStep();
      this.closeText();
      this.emit({ type: 'tool-input-available', toolCallId: callId, toolName: name, input: input ?? {} });
    }
    const approval = this.approvals.get(callId);
    if (approval && !this.requested.has(callId)) {
      this.requested.add(callId);
      this.emit({ type: 'tool-approval-request', approvalId: approval.id, toolCallId: callId });
    }
  }

  private settleTool(callId: string, outcome: { output: unknown } | { errorText: string }): void {
    if (this.settled.has(callId)) return;
    this.settled.add(callId);
    this.toolOutputInStep = true;
    const status = this.approvals.get(callId)?.status;
    if ('errorText' in outcome && status && REFUSED.has(status)) this.emit({ type: 'tool-output-denied', toolCallId: callId });
    else if ('errorText' in outcome) this.emit({ type: 'tool-output-error', toolCallId: callId, errorText: outcome.errorText });
    else this.emit({ type: 'tool-output-available', toolCallId: callId, output: outcome.output });
  }

  /** Sources as soon as a result names them, each once, as many as the reply's metadata keeps. */
  private cite(sources: readonly MessageSource[]): void {
    for (const source of this.sources.add(sources)) this.emit(sourceChunk(source));
  }

  private appendText(delta: string): void {
    this.nextStep();
    if (!this.textId) {
      this.textId = `text-${++this.texts}`;
      this.emit({ type: 'text-start', id: this.textId });
    }
    this.emit({ type: 'text-delta', id: this.textId, delta });
    this.streamed += delta;
  }

  private closeText(): void {
    if (!this.textId) return;
    this.emit({ type: 'text-end', id: this.textId });
    this.textId = undefined;
  }

  /**
   * The model is called again after tool results: a new step, as the AI SDK's own streams show it.
   * A continuation's first step opens with its first text or call, after the decided calls' outcomes.
   */
  private nextStep(): void {
    if (this.stepOpen && !this.toolOutputInStep) return;
    this.toolOutputInStep = false;
    this.closeText();
    if (this.stepOpen) this.emit({ type: 'finish-step' });
    this.emit({ type: 'start-step' });
    this.stepOpen = true;
  }
}
