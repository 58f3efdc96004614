import type { MessageMetadata } from '../messages/message.entity.js';
import { SourceList } from '../messages/message-source.js';
import type { RealtimeBus } from '../realtime/realtime-bus.js';
import type { AgentStreamPart } from './agent-steps.js';
import type { RunEntity } from './run.entity.js';
import type { RunsRepository } from './runs.repository.js';
import type { ToolCallEnds } from './tool-call-ends.js';
import { citationsOf } from './tools/citations.js';

type ToolPart<Type extends AgentStreamPart['type']> = Extract<AgentStreamPart, { type: Type }>;

/**
 * A run's tool calls: each one recorded as an invocation and announced (run:tool) as it starts
 * and ends, and kept for the reply's metadata with the sources its results name (documents and
 * messages the search tools found).
 *
 * A call that could not be recorded belongs to a run erased with its account (its stop is on the
 * way): from then on its calls are neither kept nor shown to anyone, nor are their outcomes.
 */
export class ToolCallRecorder {
  /** Invocation ids by the provider's call id. */
  private readonly invocations = new Map<string, string>();
  private readonly calls: NonNullable<MessageMetadata['toolCalls']> = [];
  private readonly sources = new SourceList();

  constructor(
    private readonly run: Pick<RunEntity, 'id' | 'conversationId' | 'requestedById'>,
    private readonly runs: RunsRepository,
    private readonly ends: ToolCallEnds,
    private readonly bus: RealtimeBus,
    /** The calls and sources of the run before it paused for approvals, when it resumes. */
    earlier?: Pick<MessageMetadata, 'toolCalls' | 'sources'>,
  ) {
    this.calls.push(...(earlier?.toolCalls ?? []));
    this.sources.add(earlier?.sources ?? []);
  }

  /** Whether any call was recorded (part of the reply has gone out). */
  get any(): boolean {
    return this.invocations.size > 0 || this.calls.length > 0;
  }

  /** toolCalls and sources for the reply's metadata, when there are any. */
  get metadata(): Pick<MessageMetadata, 'toolCalls' | 'sources'> {
    return { ...(this.calls.length && { toolCalls: this.calls }), ...(this.sources.items.length && { sources: this.sources.items }) };
  }

  async started({ toolCallId, toolName, input }: ToolPart<'tool-call'>): Promise<void> {
    const id = await this.runs.recordToolStart({ runId: this.run.id, callId: toolCallId, name: toolName, arguments: input });
    if (!id) return;
    this.invocations.set(toolCallId, id);
    this.announce({ callId: toolCallId, name: toolName, status: 'started', args: input });
  }

  async completed({ toolCallId, toolName, input, output, origin }: ToolPart<'tool-result'>): Promise<void> {
    const id = this.invocations.get(toolCallId);
    if (!id || !(await this.ends.record(this.run, { invocationId: id, toolCallId, toolName, ...(origin && { origin }), outcome: { result: output } }))) return;
    this.calls.push({ callId: toolCallId, name: toolName, args: input, result: output });
    this.sources.add(citationsOf(toolName, output));
    this.announce({ callId: toolCallId, name: toolName, status: 'completed', args: input, result: output });
  }

  async failed({ toolCallId, toolName, input, error: message, origin }: ToolPart<'tool-error'>): Promise<void> {
    const id = this.invocations.get(toolCallId);
    if (!id || !(await this.ends.record(this.run, { invocationId: id, toolCallId, toolName, ...(origin && { origin }), outcome: { error: message } }))) return;
    this.calls.push({ callId: toolCallId, name: toolName, args: input, error: message });
    this.announce({ callId: toolCallId, name: toolName, status: 'failed', args: input, result: { error: message } });
  }

  private announce(call: { callId: string; name: string; status: 'started' | 'completed' | 'failed'; args: unknown; result?: unknown }): void {
    this.bus.publish({ type: 'run.tool', conversationId: this.run.conversationId, runId: this.run.id, ...call });
  }
}
