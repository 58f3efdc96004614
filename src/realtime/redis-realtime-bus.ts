import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { RedisClientType } from 'redis';
import { debounceTime, Subject } from 'rxjs';
import type { MetricsService } from '../metrics/metrics.service.js';
import { INSTANCE_ID } from './instance.js';
import type { RedisConnection } from './redis.connection.js';
import { RealtimeBus } from './realtime-bus.js';
import type { RealtimeEvent } from './realtime.events.js';

export const EVENTS_CHANNEL = 'agentchat:events';
/**
 * Recoveries this close together make one: each connection coming back, and the other instances'
 * notices, which arrive spread over their reconnect backoff.
 */
const RESUME_COALESCE_MS = 1000;

/**
 * Events this instance could not hand to Redis for the others. Registered whatever the bus (zero
 * without REDIS_URL, where nothing leaves the process), so that dashboards always find it.
 */
export function busPublishFailures(metrics: MetricsService): Counter {
  return new Counter({
    name: 'realtime_bus_publish_failures_total',
    help: 'Events not published to Redis for the other instances (Redis unavailable); their clients recover them by a resync',
    registers: [metrics.registry],
  });
}

/** An event, or a notice that events of the origin instance were lost on their way to the others. */
type Envelope = { origin: string; event: RealtimeEvent } | { origin: string; lost: true };

/**
 * The bus across instances: every event is delivered here at once and published on a Redis
 * channel for the other instances (which skip their own). While Redis is unreachable the
 * instance keeps serving its own clients; cross-instance delivery resumes when Redis returns.
 * Pub/sub keeps nothing for a subscriber that is away, so the loss is announced instead
 * (`resumed$`): here when this instance's subscriber comes back, and on every other instance
 * when events this one could not publish are known to be lost.
 */
export class RedisRealtimeBus extends RealtimeBus implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeBus');
  private readonly subject = new Subject<RealtimeEvent>();
  readonly events$ = this.subject.asObservable();
  private readonly resumed = new Subject<void>();
  readonly resumed$ = this.resumed.pipe(debounceTime(RESUME_COALESCE_MS));
  private subscriber: RedisClientType | undefined;
  /** Events were not published since the last success: the other instances' clients missed them. */
  private publishFailing = false;
  /** The subscriber lost its connection: the other instances' events of that time missed this one. */
  private subscriberInterrupted = false;
  /**
   * Until the first connection, nothing was published that another instance's client could have
   * counted on (the start-up's own events carry versions, and a gap makes a client re-join):
   * not announcing that as a loss spares every rolling restart a resync of the whole cluster.
   */
  private publishedBefore = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly failures?: Pick<Counter, 'inc'>,
  ) {
    super();
  }

  async onModuleInit(): Promise<void> {
    // The subscriber queues its SUBSCRIBE while offline and renews it after every reconnect.
    const subscriber = this.redis.client!.duplicate({ disableOfflineQueue: false }) as RedisClientType;
    this.subscriber = subscriber;
    subscriber.on('error', () => (this.subscriberInterrupted = true));
    // Ready again means subscribed again: from here on nothing more is missed.
    subscriber.on('ready', () => {
      if (!this.subscriberInterrupted) return;
      this.subscriberInterrupted = false;
      this.resumed.next();
    });
    this.redis.client!.on('ready', () => {
      this.publishedBefore = true;
      this.publishingWorks();
    });
    subscriber.connect().catch(() => undefined);
    void subscriber
      .subscribe(EVENTS_CHANNEL, (raw) => {
        let envelope: Envelope;
        try {
          envelope = JSON.parse(raw) as Envelope;
        } catch {
          return;
        }
        if (envelope.origin === INSTANCE_ID) return;
        if ('event' in envelope) this.subject.next(envelope.event);
        else this.resumed.next();
      })
      .catch((error: unknown) => this.logger.warn(`Subscribing to ${EVENTS_CHANNEL} failed: ${String(error)}`));
  }

  publish(event: RealtimeEvent): void {
    this.subject.next(event);
    const client = this.redis.client! as RedisClientType;
    if (!client.isReady) {
      if (this.publishedBefore) this.reportFailure('not connected');
      return;
    }
    void this.publishRemote(client, JSON.stringify({ origin: INSTANCE_ID, event } satisfies Envelope));
  }

  private async publishRemote(client: RedisClientType, message: string): Promise<void> {
    try {
      await client.publish(EVENTS_CHANNEL, message);
      this.publishingWorks();
    } catch (error) {
      this.reportFailure(String(error));
    }
  }

  /** After events were dropped, the other instances are told, so that their clients recover them. */
  private publishingWorks(): void {
    const client = this.redis.client! as RedisClientType;
    if (!this.publishFailing || !client.isReady) return;
    this.publishFailing = false;
    this.logger.log('Publishing to Redis works again');
    void this.publishRemote(client, JSON.stringify({ origin: INSTANCE_ID, lost: true } satisfies Envelope));
  }

  private reportFailure(reason: string): void {
    this.failures?.inc();
    if (!this.publishFailing) this.logger.warn(`Events reach this instance's clients only while Redis is unavailable (${reason})`);
    this.publishFailing = true;
  }

  async onApplicationShutdown(): Promise<void> {
    this.subject.complete();
    this.resumed.complete();
    // close() would wait for commands queued while disconnected; destroy() drops them.
    if (this.subscriber?.isReady) await this.subscriber.close().catch(() => undefined);
    else if (this.subscriber?.isOpen) this.subscriber.destroy();
  }
}
