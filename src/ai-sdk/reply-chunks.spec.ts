import { lastAssistantMessageIsCompleteWithApprovalResponses, readUIMessageStream, type UIMessage, type UIMessageChunk, uiMessageChunkSchema } from 'ai';
import { describe, expect, it } from 'vitest';
import type { RunDto } from '../agent/dto/run.dto.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import { MAX_UI_MESSAGES, messagesProblem } from './dto/ai-sdk.dto.js';
import { type PausedReply, ReplyChunks, sourceChunk, unansweredChunks } from './reply-chunks.js';

const RUN_ID = 'run-1';
const REPLY_ID = 'reply-1';
const CONVERSATION_ID = 'conversation-1';

function run(status: RunDto['status'], extra: Partial<RunDto> = {}): RunDto {
  return {
    id: RUN_ID, conversationId: CONVERSATION_ID, triggerMessageId: 'user-1', responseMessageId: REPLY_ID, status, provider: 'openai', model: 'm',
    usage: null, error: null, createdAt: '2026-01-01T00:00:00.000Z', startedAt: null, finishedAt: null, ...extra,
  };
}

function reply(content: string, metadata: MessageDto['metadata'] = {}, status: MessageDto['status'] = 'complete'): MessageDto {
  return {
    id: REPLY_ID, conversationId: CONVERSATION_ID, seq: 2, version: 7, role: 'assistant', authorId: null, content, status, clientMessageId: null,
    runId: RUN_ID, metadata, attachments: [], attachmentDetails: [], createdAt: '2026-01-01T00:00:00.000Z', editedAt: null, deletedAt: null,
  };
}

function record(): { chunks: UIMessageChunk[]; stream: ReplyChunks } {
  const chunks: UIMessageChunk[] = [];
  return { chunks, stream: new ReplyChunks((chunk) => chunks.push(chunk), RUN_ID) };
}

/** Every chunk passes the SDK's schema, and the SDK's reader builds this message from them (continuing `message`). */
async function rebuilt(chunks: UIMessageChunk[], message?: UIMessage): Promise<UIMessage> {
  const schema = uiMessageChunkSchema();
  for (const chunk of chunks) expect((await schema.validate!(chunk)).success, JSON.stringify(chunk)).toBe(true);
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of chunks) if (chunk.type !== 'error') controller.enqueue(chunk);
      controller.close();
    },
  });
  let last: UIMessage | undefined;
  for await (const built of readUIMessageStream({ stream, ...(message && { message }) })) last = built;
  return last!;
}

const text = (message: UIMessage) => message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
const delta = (index: number, value: string) => ({ type: 'run.delta' as const, conversationId: CONVERSATION_ID, runId: RUN_ID, index, text: value });

describe('ReplyChunks', () => {
  it('joins a snapshot and the live deltas without a gap or a repeat at the seam', async () => {
    const { chunks, stream } = record();
    stream.resume({ run: run('running'), content: 'Hello, ', index: 1 });
    for (const event of [delta(0, 'Hel'), delta(1, 'lo, '), delta(2, 'world'), delta(2, 'world'), delta(3, '!')]) stream.event(event);
    stream.event({ type: 'run.completed', conversationId: CONVERSATION_ID, run: run('completed'), message: reply('Hello, world!'), version: 7 });
    expect(chunks.filter((chunk) => chunk.type === 'text-delta').map((chunk) => chunk.delta)).toEqual(['Hello, ', 'world', '!']);
    expect(chunks[0]).toEqual({ type: 'start', messageId: REPLY_ID });
    expect(chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'stop' });
    const message = await rebuilt(chunks);
    expect(message.id).toBe(REPLY_ID);
    expect(text(message)).toBe('Hello, world!');
    expect(stream.done).toBe(true);
  });

  it('resumes with the calls made so far; a call still running ends live, and none is shown twice', async () => {
    const { chunks, stream } = record();
    const tool = { conversationId: CONVERSATION_ID, runId: RUN_ID, name: 'calculator' };
    const done = { ...tool, callId: 'c1', status: 'completed' as const, args: { expression: '1+1' }, result: { result: '2' } };
    const running = { ...tool, callId: 'c2', status: 'started' as const, args: { expression: '2+2' } };
    stream.resume({ run: run('running'), content: '', index: -1 }, [done, running]);
    // The first call ended before the stream listened; the second one's start is told again by an
    // event held from before the read, then it ends.
    stream.event({ type: 'run.tool', ...running });
    stream.event({ type: 'run.tool', ...running, status: 'completed', result: { result: '4' } });
    stream.event(delta(0, 'Both done.'));
    const final = reply('Both done.', { toolCalls: [{ callId: 'c1', name: 'calculator', args: done.args, result: done.result }, { callId: 'c2', name: 'calculator', args: running.args, result: { result: '4' } }] });
    stream.event({ type: 'run.completed', conversationId: CONVERSATION_ID, run: run('completed'), message: final, version: 7 });
    expect(chunks.filter((chunk) => chunk.type === 'tool-input-available').map((chunk) => chunk.toolCallId)).toEqual(['c1', 'c2']);
    expect(chunks.filter((chunk) => chunk.type === 'tool-output-available').map((chunk) => chunk.toolCallId)).toEqual(['c1', 'c2']);
    const message = await rebuilt(chunks);
    expect(message.parts.filter((part) => part.type !== 'step-start' && !part.type.startsWith('data-')).map((part) => part.type)).toEqual(['tool-calculator', 'tool-calculator', 'text']);
    expect(text(message)).toBe('Both done.');
  });

  it('after a gap takes the rest of the text from the final reply, so the client ends with exactly it', async () => {
    const { chunks, stream } = record();
    stream.event({ type: 'run.started', conversationId: CONVERSATION_ID, run: run('running') });
    stream.event(delta(0, 'one '));
    stream.event(delta(2, 'three '));
    stream.event(delta(3, 'four'));
    stream.event({ type: 'message.updated', conversationId: CONVERSATION_ID, message: reply('one two three four', {}, 'failed') });
    stream.event({ type: 'run.failed', conversationId: CONVERSATION_ID, run: run('failed', { error: { code: 'X', message: 'It broke' } }), error: { code: 'X', message: 'It broke' }, version: 7 });
    expect(text(await rebuilt(chunks))).toBe('one two three four');
    expect(chunks.at(-1)).toEqual({ type: 'error', errorText: 'It broke' });
  });

  it('replays an ended reply from what was persisted: tools, text, sources, our ids', async () => {
    const { chunks, stream } = record();
    const hits = [{ messageId: 'm-1', conversationId: CONVERSATION_ID, conversationTitle: 'Plans', seq: 4, excerpt: '**budget**', score: 0.5 }];
    const sources = [{ type: 'message' as const, id: 'm-1', title: 'Plans', snippet: '**budget**', conversationId: CONVERSATION_ID, seq: 4, score: 0.5 }];
    const toolCalls = [
      { callId: 'c1', name: 'search_history', args: { query: 'budget' }, result: hits },
      { callId: 'c2', name: 'calculator', args: { expression: '1/0' }, error: 'division by zero' },
    ];
    stream.settle(run('completed'), reply('Found it.', { toolCalls, sources }));
    const message = await rebuilt(chunks);
    expect(message.parts.map((part) => part.type)).toEqual([
      'step-start', 'data-run', 'tool-search_history', 'tool-calculator', 'step-start', 'text', 'source-document', 'data-message',
    ]);
    expect(message.parts[3]).toMatchObject({ state: 'output-error', errorText: 'division by zero' });
    expect(message.parts[6]).toMatchObject({ sourceId: 'm-1', title: 'Plans #4', mediaType: 'text/markdown' });
    expect(message.parts[7]).toMatchObject({ id: REPLY_ID, data: { id: REPLY_ID, seq: 2, version: 7, role: 'assistant' } });
  });

  it('shows live tool calls once each, and a cancelled run as abort', async () => {
    const { chunks, stream } = record();
    stream.event({ type: 'run.started', conversationId: CONVERSATION_ID, run: run('running') });
    const tool = { type: 'run.tool' as const, conversationId: CONVERSATION_ID, runId: RUN_ID, callId: 'c1', name: 'calculator', args: { expression: '2+2' } };
    stream.event({ ...tool, status: 'started' as const });
    stream.event({ ...tool, status: 'completed' as const, result: { result: '4' } });
    stream.event({ type: 'message.updated', conversationId: CONVERSATION_ID, message: reply('', { toolCalls: [{ callId: 'c1', name: 'calculator', args: {}, result: { result: '4' } }] }, 'cancelled') });
    stream.event({ type: 'run.cancelled', conversationId: CONVERSATION_ID, run: run('cancelled'), version: 7 });
    expect(chunks.filter((chunk) => chunk.type.startsWith('tool-'))).toHaveLength(2);
    expect(chunks.at(-1)).toEqual({ type: 'abort', reason: 'cancelled' });
    expect((await rebuilt(chunks)).parts.find((part) => part.type === 'tool-calculator')).toMatchObject({ state: 'output-available', output: { result: '4' } });
  });

  it('shows the sources of a search as soon as its result is known, once each, as many as the reply keeps', async () => {
    const { chunks, stream } = record();
    stream.event({ type: 'run.started', conversationId: CONVERSATION_ID, run: run('running') });
    const passage = (chunk: number) => ({ documentId: 'd1', title: 'lease.md', mediaType: 'text/markdown', page: null, heading: 'Notice', chunk, excerpt: `**notice** ${chunk}`, score: 1, content: 'notice' });
    const search = (callId: string, results: unknown[]) => {
      const tool = { type: 'run.tool' as const, conversationId: CONVERSATION_ID, runId: RUN_ID, callId, name: 'search_documents', args: { query: 'notice' } };
      stream.event({ ...tool, status: 'started' as const });
      stream.event({ ...tool, status: 'completed' as const, result: { scope: 'conversation', results } });
    };
    search('c1', [passage(0), passage(1)]);
    expect(chunks.at(-1)).toMatchObject({ type: 'source-document', sourceId: 'd1#1', title: 'lease.md', filename: 'lease.md' });
    search('c2', Array.from({ length: 30 }, (_, chunk) => passage(chunk)));
    const final = reply('Two months.', { sources: Array.from({ length: 20 }, (_, chunk) => ({ type: 'document' as const, id: 'd1', title: 'lease.md', snippet: '', chunk, score: 1 })) });
    stream.event({ type: 'run.completed', conversationId: CONVERSATION_ID, run: run('completed'), message: final, version: 7 });
    const sources = (await rebuilt(chunks)).parts.filter((part) => part.type === 'source-document');
    expect(sources.map((part) => part.sourceId)).toEqual(Array.from({ length: 20 }, (_, chunk) => `d1#${chunk}`));
  });

  it('ignores the events of other runs, and everything once ended', () => {
    const { chunks, stream } = record();
    stream.event({ type: 'run.started', conversationId: CONVERSATION_ID, run: run('running', { id: 'other' }) });
    stream.event({ ...delta(0, 'x'), runId: 'other' });
    expect(chunks).toEqual([]);
    stream.settle(run('completed'), reply(''));
    const ended = chunks.length;
    stream.event(delta(0, 'late'));
    expect(chunks).toHaveLength(ended);
  });

  it('answers a message the agent does not reply to with the stored message only', async () => {
    const stored = { ...reply('hi'), id: 'user-1', role: 'user' as const, runId: null };
    const chunks = unansweredChunks(stored);
    const message = await rebuilt(chunks);
    expect(message.parts).toEqual([{ type: 'data-message', id: 'user-1', data: expect.objectContaining({ id: 'user-1', role: 'user', seq: 2 }) }]);
  });
});

describe('ReplyChunks for a run that pauses for approvals', () => {
  const paused = (extra: Partial<PausedReply> = {}): PausedReply => ({
    run: run('awaiting_approval'),
    content: 'Checking. ',
    index: 0,
    toolCalls: [{ callId: 'c1', name: 'calculator', args: { expression: '1+1' }, result: { result: '2' } }],
    sources: [],
    waiting: [{ toolCallId: 'c2', toolName: 'mcp__deploy', input: { version: 2 } }],
    approvals: [{ id: 'approval-1', toolCallId: 'c2', status: 'pending' }],
    ...extra,
  });
  const answered = (message: UIMessage, approved: boolean): UIMessage => ({
    ...message,
    parts: message.parts.map((part) =>
      'approval' in part && part.state === 'approval-requested' ? ({ ...part, state: 'approval-responded', approval: { id: part.approval.id, approved } } as unknown as typeof part) : part,
    ),
  });

  it('ends the message at the pause with each waiting call asking for approval, as useChat expects', async () => {
    const { chunks, stream } = record();
    stream.pause(paused(), { end: true });
    expect(stream.done).toBe(true);
    expect(chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'tool-calls' });
    const message = await rebuilt(chunks);
    expect(message.parts.filter((part) => part.type.startsWith('tool-'))).toEqual([
      expect.objectContaining({ type: 'tool-calculator', state: 'output-available' }),
      expect.objectContaining({ type: 'tool-mcp__deploy', toolCallId: 'c2', state: 'approval-requested', input: { version: 2 }, approval: { id: 'approval-1' } }),
    ]);
    expect(text(message)).toBe('Checking. ');
    expect(lastAssistantMessageIsCompleteWithApprovalResponses({ messages: [message] })).toBe(false);
    expect(lastAssistantMessageIsCompleteWithApprovalResponses({ messages: [answered(message, true)] })).toBe(true);
  });

  it('continues the same message after the answer: the outcome first, then the rest, nothing sent twice', async () => {
    for (const [approved, status, expected] of [[true, 'approved', 'output-available'], [false, 'denied', 'output-denied']] as const) {
      const first = record();
      first.stream.pause(paused(), { end: true });
      const held = answered(await rebuilt(first.chunks), approved);

      const { chunks, stream } = record();
      const state = paused();
      stream.continueFrom({ content: state.content, index: state.index, toolCallIds: ['c1', 'c2'], settledIds: ['c1'], sources: [] });
      stream.know([{ id: 'approval-1', toolCallId: 'c2', status }]);
      stream.event({ type: 'run.started', conversationId: CONVERSATION_ID, run: run('running') });
      const tool = { type: 'run.tool' as const, conversationId: CONVERSATION_ID, runId: RUN_ID, callId: 'c2', name: 'mcp__deploy', args: { version: 2 } };
      stream.event({ ...tool, status: 'started' as const });
      stream.event(approved ? { ...tool, status: 'completed' as const, result: { ok: true } } : { ...tool, status: 'failed' as const, result: { error: 'The user denied this tool call' } });
      for (const event of [delta(0, 'Checking. '), delta(1, 'Done.')]) stream.event(event);
      stream.event({ type: 'run.completed', conversationId: CONVERSATION_ID, run: run('completed'), message: reply('Checking. Done.'), version: 7 });

      expect(chunks.map((chunk) => chunk.type)).toEqual([
        'start', 'data-run', approved ? 'tool-output-available' : 'tool-output-denied', 'start-step', 'text-start', 'text-delta', 'text-end', 'data-message', 'data-run', 'finish-step', 'finish',
      ]);
      const message = await rebuilt(chunks, held);
      expect(message.id).toBe(REPLY_ID);
      expect(text(message)).toBe('Checking. Done.');
      expect(message.parts.filter((part) => part.type.startsWith('tool-'))).toEqual([
        expect.objectContaining({ toolCallId: 'c1', state: 'output-available' }),
        expect.objectContaining({ toolCallId: 'c2', state: expected, approval: { id: 'approval-1', approved } }),
      ]);
    }
  });

  it('replays an approved call of an ended run with its request, a refused one as denied', async () => {
    const { chunks, stream } = record();
    stream.know([{ id: 'a1', toolCallId: 'c1', status: 'approved' }, { id: 'a2', toolCallId: 'c2', status: 'expired' }]);
    const toolCalls = [{ callId: 'c1', name: 'deploy', args: {}, result: { ok: true } }, { callId: 'c2', name: 'deploy', args: {}, error: 'No one approved this tool call in time' }];
    stream.settle(run('completed'), reply('Half done.', { toolCalls }));
    const parts = (await rebuilt(chunks)).parts.filter((part) => part.type === 'tool-deploy');
    expect(parts).toEqual([
      expect.objectContaining({ toolCallId: 'c1', state: 'output-available', approval: { id: 'a1' } }),
      expect.objectContaining({ toolCallId: 'c2', state: 'output-denied', approval: { id: 'a2' } }),
    ]);
  });
});

describe('sourceChunk', () => {
  it('shows a document passage as a source-document of the document, a message as one titled with where it was said', () => {
    const passage = { type: 'document' as const, id: 'd1', title: 'spec.pdf', snippet: 'the **gates**', chunk: 3, page: 2, mediaType: 'application/pdf', score: 0.4 };
    expect(sourceChunk(passage)).toEqual({
      type: 'source-document', sourceId: 'd1#3', title: 'spec.pdf', filename: 'spec.pdf', mediaType: 'application/pdf', providerMetadata: { agentChat: passage },
    });
    const message = { type: 'message' as const, id: 'm1', title: 'Plans', snippet: '**budget**', conversationId: 'c1', seq: 4, score: 0.1 };
    expect(sourceChunk(message)).toEqual({ type: 'source-document', sourceId: 'm1', title: 'Plans #4', mediaType: 'text/markdown', providerMetadata: { agentChat: message } });
  });
});

describe('messagesProblem', () => {
  it('names the first problem by its path, and bounds the array before reading it', () => {
    expect(messagesProblem([{ id: 'a', role: 'user', parts: [{ type: 'text', text: 'hi' }, { type: 'tool-x', input: { deep: [1] } }], extra: 1 }])).toBeUndefined();
    expect(messagesProblem([{ id: 'a', role: 'user', parts: [] }, { id: 'b', role: 'user', parts: [{ type: 'text' }] }])).toBe('messages.1.parts.0 is a text part without a string text');
    expect(messagesProblem(Array.from({ length: MAX_UI_MESSAGES + 1 }, () => null))).toBe(`messages must hold 1 to ${MAX_UI_MESSAGES} messages`);
    expect(messagesProblem({})).toBe('messages must be an array');
  });
});
