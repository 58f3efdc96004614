import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src/agent/agent-core.service.js';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { MessagesService } from '../../src/messages/messages.service.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { waitUntil } from '../support/conditions.js';
import { gate, httpError, texts } from '../support/service/scripted-model.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

type Delta = Extract<RealtimeEvent, { type: 'run.delta' }>;

/** AgentCore.run on runs this test claims itself: no scheduler races it for them. */
describe('AgentCore', () => {
  let app: ServiceApp;
  let core: AgentCore;

  beforeAll(async () => {
    app = await startServiceApp({ scheduler: false });
    core = app.get(AgentCore);
  });
  afterEach(() => {
    // A test that failed midway must not leave a run holding the next one up.
    core.abortAll();
    app.reset();
  });
  afterAll(() => app?.close());

  async function setUp(content?: string) {
    const owner = await app.user();
    const conversation = await app.conversation(owner);
    const run = await app.claimedRun(owner, conversation.id, content);
    return { owner, conversation, run };
  }

  const deltasOf = (runId: string) => app.events.of({ runId }).filter((event): event is Delta => event.type === 'run.delta');
  const messages = (conversationId: string) => app.get(MessagesRepository).history(conversationId, { limit: 100 });

  describe('cancel', () => {
    it('ends a run cancelled as soon as it starts when the cancel came while it was claimed but not executing', async () => {
      const { conversation, run } = await setUp();
      const model = app.models.next({ steps: texts('never', ' sent') });
      app.bus.publish({ type: 'run.cancel', conversationId: conversation.id, runId: run.id });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.cancelled');
      expect(ended.run.status).toBe('cancelled');
      expect(model.calls).toHaveLength(0);
      expect(deltasOf(run.id)).toEqual([]);
      expect((await app.get(RunsRepository).findById(run.id))?.status).toBe('cancelled');
    });

    it('stops a streaming run at once, keeping its text', async () => {
      const { conversation, run } = await setUp();
      const held = gate();
      const model = app.models.next({ steps: [...texts('Partial', ' text'), { wait: held }, ...texts(' never')] });
      const running = core.run(run);
      await waitUntil(() => core.snapshot(run.id)?.content === 'Partial text', 'the text before the hold');

      app.bus.publish({ type: 'run.cancel', conversationId: conversation.id, runId: run.id });
      await running;

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.cancelled');
      expect(model.stopped).toBe(1);
      const reply = await app.get(MessagesRepository).findById(conversation.id, ended.run.responseMessageId!);
      expect(reply).toMatchObject({ content: 'Partial text', status: 'cancelled' });
    });

    it('is harmless for a run nobody executes', async () => {
      const { conversation, run } = await setUp();
      const before = app.events.events.length;
      app.bus.publish({ type: 'run.cancel', conversationId: conversation.id, runId: randomUUID() });
      expect(app.events.events.slice(before).map((event) => event.type)).toEqual(['run.cancel']);

      app.models.next({ steps: texts('Still', ' answered') });
      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.completed');
      expect(ended.type === 'run.completed' && ended.message.content).toBe('Still answered');
    });
  });

  describe('shutdown', () => {
    it('ends a streaming run interrupted (SHUTDOWN) with its partial text, its events in order', async () => {
      const { conversation, run } = await setUp();
      const model = app.models.next({ steps: [...texts('Half', ' a reply'), { wait: gate() }] });
      const running = core.run(run);
      await waitUntil(() => core.snapshot(run.id)?.content === 'Half a reply', 'the text before the hold');

      core.abortAll();
      await running;

      const events = app.events.of({ conversationId: conversation.id }).filter((event) => event.type !== 'conversation.updated');
      const types = events.map((event) => event.type);
      const deltas = types.filter((type) => type === 'run.delta').length;
      expect(types).toEqual(['message.created', 'run.started', ...Array<string>(deltas).fill('run.delta'), 'message.updated', 'run.failed']);
      const failed = events.at(-1) as Extract<RealtimeEvent, { type: 'run.failed' }>;
      expect(failed.run.status).toBe('interrupted');
      expect(failed.error.code).toBe('SHUTDOWN');
      expect(events.at(-2)).toMatchObject({ message: { content: 'Half a reply', status: 'interrupted', version: failed.version } });
      expect(model.stopped).toBe(1);
      expect(core.activeRunIds).not.toContain(run.id);
    });
  });

  describe('deletion', () => {
    it('ends a run whose trigger message was deleted before it started (TRIGGER_GONE), writing no reply', async () => {
      const { owner, conversation, run } = await setUp();
      await app.get(MessagesService).remove(owner, conversation.id, run.triggerMessageId);
      const model = app.models.next({ steps: texts('unwanted') });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.cancelled');
      expect(ended.run.error?.code).toBe('TRIGGER_GONE');
      expect(model.calls).toHaveLength(0);
      expect((await messages(conversation.id)).items.filter((message) => message.role === 'assistant')).toEqual([]);
    });

    it('ends a run whose conversation was deleted before it started (TRIGGER_GONE), writing no reply', async () => {
      const { owner, conversation, run } = await setUp();
      await app.get(ConversationsService).remove(owner, conversation.id);
      app.models.next({ steps: texts('unwanted') });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.run).toMatchObject({ status: 'cancelled', error: { code: 'TRIGGER_GONE' } });
      expect(app.events.of({ runId: run.id }).map((event) => event.type)).toEqual(['run.cancelled']);
      expect((await messages(conversation.id)).items.map((message) => message.role)).toEqual(['user']);
    });

    it('cancels a run whose reply is deleted while it streams; the reply stays erased', async () => {
      const { owner, conversation, run } = await setUp();
      const held = gate();
      app.models.next({ steps: [...texts('Soon', ' deleted'), { wait: held }, ...texts(' never')] });
      const running = core.run(run);
      await waitUntil(() => core.snapshot(run.id)?.content === 'Soon deleted', 'the text before the hold');
      const { run: started } = await app.events.waitFor((event) => event.type === 'run.started' && event.run.id === run.id, 'run.started') as Extract<RealtimeEvent, { type: 'run.started' }>;

      await app.get(MessagesService).remove(owner, conversation.id, started.responseMessageId!);
      await running;

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.cancelled');
      const reply = await app.get(MessagesRepository).findById(conversation.id, started.responseMessageId!);
      expect(reply?.deletedAt).not.toBeNull();
      expect(reply).toMatchObject({ status: 'cancelled' });
      expect(reply?.content).not.toContain('deleted');
    });

    it('cancels a run whose conversation is deleted while it streams, keeping its text and adding no message', async () => {
      // Nobody can read the reply any more: the provider call stops; the reply row keeps the text so far.
      const { owner, conversation, run } = await setUp();
      const held = gate();
      const model = app.models.next({ steps: [...texts('Before'), { wait: held }, ...texts(' after')] });
      const running = core.run(run);
      await waitUntil(() => core.snapshot(run.id)?.content === 'Before', 'the first delta');

      await app.get(ConversationsService).remove(owner, conversation.id);
      await running;
      held.open();

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.cancelled');
      expect(model.stopped).toBeGreaterThan(0);
      expect((await messages(conversation.id)).items.map((message) => message.role)).toEqual(['user', 'assistant']);
      expect(core.activeRunIds).not.toContain(run.id);
    });
  });

  describe('provider errors', () => {
    it('retries a retryable error that came before the first token, then streams the answer', async () => {
      app.agentSettings({ retryBaseMs: 1 });
      const { run } = await setUp();
      const model = app.models.next({ reject: httpError(503) }, { steps: texts('Second', ' try') });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.completed');
      expect(ended.type === 'run.completed' && ended.message.content).toBe('Second try');
      expect(model.calls).toHaveLength(2);
    });

    it('does not retry once text was sent: the run fails (STREAM_INTERRUPTED) with the partial text kept', async () => {
      app.agentSettings({ retryBaseMs: 1 });
      const { conversation, run } = await setUp();
      const model = app.models.next({ steps: [...texts('Partial'), { fail: httpError(503) }] }, { steps: texts('A whole new answer') });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type).toBe('run.failed');
      expect(ended.type === 'run.failed' && ended.error.code).toBe('STREAM_INTERRUPTED');
      expect(model.calls).toHaveLength(1);
      const reply = await app.get(MessagesRepository).findById(conversation.id, ended.run.responseMessageId!);
      expect(reply).toMatchObject({ content: 'Partial', status: 'failed' });
    });

    it('fails at once with PROVIDER_AUTH when the provider refuses the credentials (401)', async () => {
      app.agentSettings({ retryBaseMs: 1 });
      const { run } = await setUp();
      const model = app.models.next({ reject: httpError(401) }, { steps: texts('unreachable') });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type === 'run.failed' && ended.error.code).toBe('PROVIDER_AUTH');
      expect(model.calls).toHaveLength(1);
    });

    it('fails with IDLE_TIMEOUT when the provider goes quiet, keeping what it sent', async () => {
      app.agentSettings({ idleTimeoutMs: 150 });
      const { conversation, run } = await setUp();
      const model = app.models.next({ steps: [...texts('Then', ' silence'), { wait: gate() }] });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type === 'run.failed' && ended.error.code).toBe('IDLE_TIMEOUT');
      expect(model.stopped).toBe(1);
      const reply = await app.get(MessagesRepository).findById(conversation.id, ended.run.responseMessageId!);
      expect(reply).toMatchObject({ content: 'Then silence', status: 'failed' });
    });

    it('fails with RUN_TIMEOUT when a steadily streaming run takes too long', async () => {
      app.agentSettings({ runTimeoutMs: 300, idleTimeoutMs: 10_000 });
      const { run } = await setUp();
      const model = app.models.next({ steps: Array.from({ length: 500 }, () => [{ pause: 10 }, { text: '.' }]).flat() });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      expect(ended.type === 'run.failed' && ended.error.code).toBe('RUN_TIMEOUT');
      expect(model.stopped).toBe(1);
    });
  });

  describe('delta coalescing', () => {
    it('merges many tiny deltas into few run.delta events with a gap-free index whose text is the reply', async () => {
      app.agentSettings({ deltaIntervalMs: 40 });
      const { run } = await setUp();
      const pieces = Array.from({ length: 300 }, (_, i) => String.fromCharCode(97 + (i % 26)));
      // A pause now and then spreads the deltas over several intervals.
      app.models.next({ steps: pieces.flatMap((text, i) => (i % 60 === 59 ? [{ text }, { pause: 25 }] : [{ text }])) });

      await core.run(run);

      const ended = await app.events.runEnded(run.id);
      const deltas = deltasOf(run.id);
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.length).toBeLessThan(30);
      expect(deltas.map((delta) => delta.index)).toEqual(deltas.map((_, i) => i));
      expect(deltas.map((delta) => delta.text).join('')).toBe(pieces.join(''));
      expect(ended.type === 'run.completed' && ended.message.content).toBe(pieces.join(''));
    });
  });
});
