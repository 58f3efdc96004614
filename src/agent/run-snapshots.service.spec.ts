import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessagesRepository } from '../messages/messages.repository.js';
import { INSTANCE_ID } from '../realtime/instance.js';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { AgentCore } from './agent-core.service.js';
import type { RunEntity } from './run.entity.js';
import type { StreamPosition } from './reply-stream.js';
import { RunSnapshots, SNAPSHOT_ANSWER_TIMEOUT_MS } from './run-snapshots.service.js';

const RUN = { id: 'run-1', conversationId: 'conversation-1', responseMessageId: 'reply-1', instanceId: 'instance-a', status: 'running' } as RunEntity;

/** One instance's view: the runs it executes, and what the database holds of their replies. */
function instance(bus: InProcessRealtimeBus, executing: Map<string, StreamPosition>, checkpoints: Map<string, StreamPosition | undefined>) {
  const core = { snapshot: (runId: string) => executing.get(runId) } as AgentCore;
  const messages = { streamCheckpoint: async (id: string) => checkpoints.get(id) } as unknown as MessagesRepository;
  const snapshots = new RunSnapshots(core, messages, bus);
  snapshots.onModuleInit();
  return snapshots;
}

describe('RunSnapshots', () => {
  let bus: InProcessRealtimeBus;
  let published: RealtimeEvent[];
  let running: Map<string, StreamPosition>;
  let checkpoints: Map<string, StreamPosition | undefined>;
  let runner: RunSnapshots;
  let joiner: RunSnapshots;

  beforeEach(() => {
    bus = new InProcessRealtimeBus();
    published = [];
    bus.events$.subscribe((event) => published.push(event));
    running = new Map([[RUN.id, { content: 'Hello, wor', index: 4 }]]);
    checkpoints = new Map([['reply-1', { content: 'Hel', index: 1 }]]);
    runner = instance(bus, running, checkpoints);
    joiner = instance(bus, new Map(), checkpoints);
  });

  afterEach(() => {
    runner.onModuleDestroy();
    joiner.onModuleDestroy();
  });

  it('asks the instance executing the run, which answers its text and index exactly', async () => {
    expect(await joiner.of(RUN)).toEqual({ content: 'Hello, wor', index: 4 });
    const request = published.find((event) => event.type === 'run.snapshot.request');
    expect(request).toMatchObject({ runId: RUN.id, requestId: expect.any(String) });
    expect(published.find((event) => event.type === 'run.snapshot')).toMatchObject({ requestId: (request as { requestId: string }).requestId, index: 4 });
  });

  it('answers from memory, without asking, for a run executing here', async () => {
    expect(await runner.of(RUN)).toEqual({ content: 'Hello, wor', index: 4 });
    expect(published).toEqual([]);
  });

  it('falls back to the stored checkpoint, with the index stored with it, when the executing instance is silent', async () => {
    running.clear();
    const started = Date.now();
    expect(await joiner.of(RUN)).toEqual({ content: 'Hel', index: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(SNAPSHOT_ANSWER_TIMEOUT_MS - 20);
    expect(Date.now() - started).toBeLessThan(SNAPSHOT_ANSWER_TIMEOUT_MS + 500);
  });

  it('reads the checkpoint at once for a run claimed here that is not streaming yet, or not any more', async () => {
    running.clear();
    const started = Date.now();
    expect(await joiner.of({ ...RUN, instanceId: INSTANCE_ID } as RunEntity)).toEqual({ content: 'Hel', index: 1 });
    expect(Date.now() - started).toBeLessThan(SNAPSHOT_ANSWER_TIMEOUT_MS);
    expect(published).toEqual([]);
  });

  it('has nothing to tell of a run whose reply has ended meanwhile, and nothing but the start of one without a reply yet', async () => {
    running.clear();
    checkpoints.set('reply-1', undefined);
    expect(await joiner.of({ ...RUN, instanceId: INSTANCE_ID } as RunEntity)).toBeUndefined();
    expect(await joiner.of({ ...RUN, instanceId: INSTANCE_ID, responseMessageId: null } as RunEntity)).toEqual({ content: '', index: -1 });
  });

  it('ignores answers meant for another request', async () => {
    running.clear();
    const answer = joiner.of(RUN);
    bus.publish({ type: 'run.snapshot', runId: RUN.id, requestId: 'someone-else', content: 'wrong', index: 9 });
    expect(await answer).toEqual({ content: 'Hel', index: 1 });
  });
});
