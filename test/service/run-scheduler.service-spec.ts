import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentCore } from '../../src/agent/agent-core.service.js';
import { SWEEP_INTERVAL_MS } from '../../src/agent/run-scheduler.service.js';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import { ChatService } from '../../src/chat/chat.service.js';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { waitUntil } from '../support/conditions.js';
import { type Gate, gate, texts } from '../support/service/scripted-model.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

/**
 * RunScheduler with ChatService in front of it, as a send reaches it. Only the scheduler's
 * periodic sweep runs on a fake clock, so that a test decides when it comes.
 */
describe('RunScheduler', () => {
  let app: ServiceApp;
  let chat: ChatService;
  let runs: RunsRepository;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    app = await startServiceApp();
    chat = app.get(ChatService);
    runs = app.get(RunsRepository);
  });
  afterEach(() => {
    app.get(AgentCore).abortAll();
    app.reset();
  });
  afterAll(async () => {
    await app?.close();
    vi.useRealTimers();
  });

  const status = async (runId: string) => (await runs.findById(runId))?.status;
  const started = () => app.events.events.filter((event): event is Extract<RealtimeEvent, { type: 'run.started' }> => event.type === 'run.started');
  const send = (user: AuthUser, conversationId: string, content: string) => chat.send(user, conversationId, { content });

  it('claims the run with its message when the conversation is idle, and executes it', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const held = gate();
    app.models.next({ steps: [...texts('Claimed', ' and answered'), { wait: held }] });

    const { message, run } = await send(owner, conversation.id, 'Hi');
    expect(run).toMatchObject({ status: 'running' });
    // Its reply was written with it: the next seq and version, streaming.
    const reply = await app.get(MessagesRepository).findById(conversation.id, run!.responseMessageId!);
    expect(reply).toMatchObject({ role: 'assistant', status: 'streaming', runId: run!.id, seq: message.seq + 1, version: message.version + 1 });
    held.open();

    const ended = await app.events.runEnded(run!.id);
    expect(ended.type === 'run.completed' && ended.message.content).toBe('Claimed and answered');
  });

  it('runs concurrent sends to one conversation one at a time, in the order of their messages', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const gates: Gate[] = Array.from({ length: 6 }, () => gate());
    for (const [i, held] of gates.entries()) app.models.next({ steps: [...texts(`reply ${i}`), { wait: held }] });

    const sent = await Promise.all(gates.map((_, i) => send(owner, conversation.id, `message ${i}`)));
    // The first message stored claims its run; the others queue behind it.
    const bySeq = sent.toSorted((a, b) => a.message.seq - b.message.seq);
    expect(bySeq.map((outcome) => outcome.run!.status)).toEqual(['running', ...gates.slice(1).map(() => 'queued')]);

    for (const [i, outcome] of bySeq.entries()) {
      const runId = outcome.run!.id;
      await app.events.waitFor((event) => event.type === 'run.started' && event.run.id === runId, `run ${i} started`);
      const statuses = await Promise.all(bySeq.map((other) => status(other.run!.id)));
      expect(statuses).toEqual(bySeq.map((_, j) => (j < i ? 'completed' : j === i ? 'running' : 'queued')));
      gates[i]!.open();
      await app.events.runEnded(runId);
    }
  });

  it('runs the runs of one conversation one at a time, in the order they were queued', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const gates: Gate[] = [gate(), gate(), gate()];
    for (const [i, held] of gates.entries()) app.models.next({ steps: [...texts(`reply ${i}`), { wait: held }] });
    const sent: string[] = [];
    for (const content of ['first', 'second', 'third']) sent.push((await send(owner, conversation.id, content)).run!.id);

    for (const [i, held] of gates.entries()) {
      await app.events.waitFor((event) => event.type === 'run.started' && event.run.id === sent[i], `run ${i} started`);
      expect(await Promise.all(sent.map(status))).toEqual(sent.map((_, j) => (j < i ? 'completed' : j === i ? 'running' : 'queued')));
      held.open();
      await app.events.runEnded(sent[i]!);
    }
    expect(started().filter((event) => event.conversationId === conversation.id).map((event) => event.run.id)).toEqual(sent);
  });

  it('queues a run after the previous one even when the clock reads the same instant or earlier (the embedded database counts milliseconds)', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const gates: Gate[] = [gate(), gate(), gate(), gate()];
    for (const [i, held] of gates.entries()) app.models.next({ steps: [...texts(`reply ${i}`), { wait: held }] });
    const sent = [(await send(owner, conversation.id, 'first')).run!.id, (await send(owner, conversation.id, 'second')).run!.id];
    // As if the clock had stepped back an hour (a millisecond clock shared by two sends is the same, by less).
    await app.get(DataSource).query(`UPDATE agent_runs SET created_at = created_at + interval '1 hour' WHERE id = $1`, [sent[1]]);
    sent.push((await send(owner, conversation.id, 'third')).run!.id);
    sent.push((await chat.regenerate(owner, conversation.id, (await runs.findById(sent[0]!))!.triggerMessageId)).id);
    const created = await app.get(DataSource).query(`SELECT id, created_at FROM agent_runs WHERE conversation_id = $1 ORDER BY created_at, id`, [conversation.id]);
    expect(created.map((row: { id: string }) => row.id)).toEqual(sent);

    for (const [i, held] of gates.entries()) {
      await app.events.waitFor((event) => event.type === 'run.started' && event.run.id === sent[i], `run ${i} started`);
      held.open();
      await app.events.runEnded(sent[i]!);
    }
    expect(started().filter((event) => event.conversationId === conversation.id).map((event) => event.run.id)).toEqual(sent);
  });

  it('runs the runs of different conversations side by side', async () => {
    const owner = await app.user();
    const [a, b] = [await app.conversation(owner), await app.conversation(owner)];
    const held = gate();
    app.models.next({ steps: [...texts('a'), { wait: held }] });
    app.models.next({ steps: [...texts('b'), { wait: held }] });
    const runA = (await send(owner, a.id, 'to a')).run!.id;
    const runB = (await send(owner, b.id, 'to b')).run!.id;

    await waitUntil(async () => (await status(runA)) === 'running' && (await status(runB)) === 'running', 'both runs running');
    held.open();
    expect((await app.events.runEnded(runA)).type).toBe('run.completed');
    expect((await app.events.runEnded(runB)).type).toBe('run.completed');
  });

  it('cancels a queued run without executing it (ChatService.cancel)', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const held = gate();
    app.models.next({ steps: [...texts('busy'), { wait: held }] });
    const first = (await send(owner, conversation.id, 'first')).run!.id;
    const second = (await send(owner, conversation.id, 'second')).run!.id;
    await app.events.waitFor((event) => event.type === 'run.started' && event.run.id === first, 'the first run started');

    const cancelled = await chat.cancel(owner, conversation.id, second);
    expect(cancelled.status).toBe('cancelled');
    expect(app.events.of({ runId: second }).map((event) => event.type)).toEqual(['run.cancelled']);

    const running = await chat.cancel(owner, conversation.id, first);
    expect(running.status).toBe('cancelled');
    expect(started().some((event) => event.run.id === second)).toBe(false);
  });

  it('interrupts a run whose instance stopped heartbeating, keeping its text, then takes the next one', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    // What a dead instance leaves behind: its run running, a reply streaming, no heartbeat for long.
    const trigger = await app.userMessage(owner, conversation.id, 'asked before the crash');
    await runs.create({ conversationId: conversation.id, triggerMessageId: trigger.id, requestedById: owner.id, provider: 'builtin', model: 'builtin' });
    const dead = (await runs.claimNext(conversation.id, 'instance-that-died'))!;
    const reply = (await app.get(MessagesRepository).appendReply({ conversationId: conversation.id, runId: dead.id, metadata: {} }))!;
    await app.get(MessagesRepository).checkpointReply(reply.id, 'Written before the crash', 3);
    await app.get(DataSource).query(`UPDATE agent_runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [dead.id]);
    // A live instance's run in another conversation is left alone.
    const other = await app.conversation(owner);
    const alive = await app.claimedRun(owner, other.id);

    app.models.next({ steps: texts('Answered after recovery') });
    const waiting = (await send(owner, conversation.id, 'asked meanwhile')).run!.id;
    expect(await status(waiting)).toBe('queued');

    await vi.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS);

    const interrupted = await app.events.runEnded(dead.id);
    expect(interrupted.type === 'run.failed' && interrupted.error.code).toBe('INTERRUPTED');
    expect(interrupted.run.status).toBe('interrupted');
    expect(await app.get(MessagesRepository).findById(conversation.id, reply.id)).toMatchObject({ content: 'Written before the crash', status: 'interrupted' });
    const next = await app.events.runEnded(waiting);
    expect(next.type === 'run.completed' && next.message.content).toBe('Answered after recovery');
    expect(await status(alive.id)).toBe('running');
  });

  it('queues again a run whose instance stopped before it began, and answers it in the reply row it has', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    // Claimed with its message and given its reply row by an instance that died before the first token.
    const trigger = await app.userMessage(owner, conversation.id, 'asked just before the crash');
    await runs.create({ conversationId: conversation.id, triggerMessageId: trigger.id, requestedById: owner.id, provider: 'builtin', model: 'builtin' });
    const dead = (await runs.claimNext(conversation.id, 'instance-that-died'))!;
    const reply = (await app.get(MessagesRepository).appendReply({ conversationId: conversation.id, runId: dead.id, metadata: {} }))!;
    await app.get(DataSource).query(`UPDATE agent_runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [dead.id]);

    app.models.next({ steps: texts('Answered after all') });
    await vi.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS);

    const ended = await app.events.runEnded(dead.id);
    expect(ended.type).toBe('run.completed');
    expect(ended.type === 'run.completed' && ended.message).toMatchObject({ id: reply.id, content: 'Answered after all', status: 'complete' });
    const history = await app.get(DataSource).query(`SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND role = 'assistant'`, [conversation.id]);
    expect(history[0].n).toBe(1);
  });

  it('interrupts a run whose instance stopped after a tool ran, even with no text yet', async () => {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const trigger = await app.userMessage(owner, conversation.id, 'do something');
    await runs.create({ conversationId: conversation.id, triggerMessageId: trigger.id, requestedById: owner.id, provider: 'builtin', model: 'builtin' });
    const dead = (await runs.claimNext(conversation.id, 'instance-that-died'))!;
    await app.get(MessagesRepository).appendReply({ conversationId: conversation.id, runId: dead.id, metadata: {} });
    await app.get(DataSource).query(
      `INSERT INTO tool_invocations (run_id, call_id, name, status) VALUES ($1, 'call-1', 'time', 'completed')`,
      [dead.id],
    );
    await app.get(DataSource).query(`UPDATE agent_runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [dead.id]);

    await vi.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS);

    // A tool may have acted already: running it again is not the scheduler's call.
    const ended = await app.events.runEnded(dead.id);
    expect(ended.type === 'run.failed' && ended.error.code).toBe('INTERRUPTED');
  });
});
