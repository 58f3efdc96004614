import { EventEmitter } from 'node:events';
import { Counter } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_ID } from './instance.js';
import type { RedisConnection } from './redis.connection.js';
import { RedisRealtimeBus } from './redis-realtime-bus.js';
import type { RealtimeEvent } from './realtime.events.js';

/** A Redis connection that the test takes down and brings back. */
class FakeClient extends EventEmitter {
  isReady = false;
  isOpen = true;
  readonly published: unknown[] = [];
  listener: ((raw: string) => void) | undefined;
  subscriber: FakeClient | undefined;

  duplicate(): FakeClient {
    return (this.subscriber = new FakeClient());
  }

  async connect(): Promise<void> {}

  async subscribe(_channel: string, listener: (raw: string) => void): Promise<void> {
    this.listener = listener;
  }

  async publish(_channel: string, message: string): Promise<number> {
    if (!this.isReady) throw new Error('The client is closed');
    this.published.push(JSON.parse(message));
    return 1;
  }

  async close(): Promise<void> {}

  destroy(): void {}

  up(): void {
    this.isReady = true;
    this.emit('ready');
  }

  down(): void {
    this.isReady = false;
    this.emit('error', new Error('connect ECONNREFUSED'));
  }
}

const EVENT: RealtimeEvent = { type: 'typing', conversationId: 'c1', userId: 'u1', isTyping: true };
// Past the bus's coalescing of recoveries (1 s).
const settle = () => new Promise((resolve) => setTimeout(resolve, 1300));

describe('RedisRealtimeBus after an outage', () => {
  let publisher: FakeClient;
  let subscriber: FakeClient;
  let bus: RedisRealtimeBus;
  let resumed: number;
  let received: RealtimeEvent[];
  let failures: Counter;
  const failed = async () => (await failures.get()).values[0]?.value ?? 0;

  beforeEach(async () => {
    failures = new Counter({ name: 'realtime_bus_publish_failures_total', help: 'failures', registers: [] });
    publisher = new FakeClient();
    // As RedisConnection does: errors are reported, never thrown.
    publisher.on('error', () => undefined);
    bus = new RedisRealtimeBus({ client: publisher } as unknown as RedisConnection, failures);
    await bus.onModuleInit();
    subscriber = publisher.subscriber!;
    publisher.up();
    subscriber.up();
    resumed = 0;
    received = [];
    bus.resumed$.subscribe(() => resumed++);
    bus.events$.subscribe((event) => received.push(event));
  });

  afterEach(() => bus.onApplicationShutdown());

  it('tells this instance to resync when its subscriber is back after losing its connection, not on the first connect', async () => {
    await settle();
    expect(resumed).toBe(0);
    subscriber.down();
    subscriber.up();
    await settle();
    expect(resumed).toBe(1);
  });

  it('tells the other instances once events it could not publish were lost, when publishing works again', async () => {
    publisher.down();
    bus.publish(EVENT);
    expect(received).toEqual([EVENT]);
    publisher.up();
    await settle();
    expect(publisher.published).toEqual([{ origin: INSTANCE_ID, lost: true }]);
    bus.publish(EVENT);
    await settle();
    expect(publisher.published).toEqual([{ origin: INSTANCE_ID, lost: true }, { origin: INSTANCE_ID, event: EVENT }]);
  });

  it('counts every event it could not publish, and none it published', async () => {
    bus.publish(EVENT);
    await settle();
    expect(await failed()).toBe(0);
    publisher.down();
    bus.publish(EVENT);
    bus.publish(EVENT);
    expect(await failed()).toBe(2);
    publisher.up();
    await settle();
    bus.publish(EVENT);
    await settle();
    expect(await failed()).toBe(2);
  });

  it('announces nothing when nothing was lost', async () => {
    publisher.down();
    publisher.up();
    await settle();
    expect(publisher.published).toEqual([]);
  });

  it("resyncs on another instance's notice of loss, which is no event for clients; notices close together make one", async () => {
    subscriber.listener!(JSON.stringify({ origin: 'another-instance', lost: true }));
    subscriber.down();
    subscriber.up();
    subscriber.listener!(JSON.stringify({ origin: 'a-third-instance', lost: true }));
    await settle();
    expect(resumed).toBe(1);
    expect(received).toEqual([]);
  });

  it('announces no loss for what it published before its first connection (a restart resyncs nobody)', async () => {
    const starting = new FakeClient();
    starting.on('error', () => undefined);
    const restarted = new RedisRealtimeBus({ client: starting } as unknown as RedisConnection);
    await restarted.onModuleInit();
    try {
      restarted.publish(EVENT);
      starting.up();
      starting.subscriber!.up();
      await settle();
      expect(starting.published).toEqual([]);
    } finally {
      await restarted.onApplicationShutdown();
    }
  });
});
