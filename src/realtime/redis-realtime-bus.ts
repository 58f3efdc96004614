import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RedisClientType } from 'redis';
import { Subject } from 'rxjs';
import { INSTANCE_ID } from './instance.js';
import type { RedisConnection } from './redis.connection.js';
import { RealtimeBus } from './realtime-bus.js';
import type { RealtimeEvent } from './realtime.events.js';

export const EVENTS_CHANNEL = 'agentchat:events';

interface Envelope {
  origin: string;
  event: RealtimeEvent;
}

/**
 * The bus across instances: every event is delivered here at once and published on a Redis
 * channel for the other instances (which skip their own). While Redis is unreachable the
 * instance keeps serving its own clients; cross-instance delivery resumes when Redis returns.
 */
export class RedisRealtimeBus extends RealtimeBus implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeBus');
  private readonly subject = new Subject<RealtimeEvent>();
  readonly events$ = this.subject.asObservable();
  private subscriber: RedisClientType | undefined;
  private publishFailing = false;

  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async onModuleInit(): Promise<void> {
    // The subscriber queues its SUBSCRIBE while offline and renews it after every reconnect.
    const subscriber = this.redis.client!.duplicate({ disableOfflineQueue: false }) as RedisClientType;
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.connect().catch(() => undefined);
    void subscriber
      .subscribe(EVENTS_CHANNEL, (raw) => {
        let envelope: Envelope;
        try {
          envelope = JSON.parse(raw) as Envelope;
        } catch {
          return;
        }
        if (envelope.origin !== INSTANCE_ID) this.subject.next(envelope.event);
      })
      .catch((error: unknown) => this.logger.warn(`Subscribing to ${EVENTS_CHANNEL} failed: ${String(error)}`));
  }

  publish(event: RealtimeEvent): void {
    this.subject.next(event);
    const client = this.redis.client! as RedisClientType;
    if (!client.isReady) {
      this.reportFailure('not connected');
      return;
    }
    void this.publishRemote(client, JSON.stringify({ origin: INSTANCE_ID, event } satisfies Envelope));
  }

  private async publishRemote(client: RedisClientType, message: string): Promise<void> {
    try {
      await client.publish(EVENTS_CHANNEL, message);
      if (this.publishFailing) this.logger.log('Publishing to Redis works again');
      this.publishFailing = false;
    } catch (error) {
      this.reportFailure(String(error));
    }
  }

  private reportFailure(reason: string): void {
    if (!this.publishFailing) this.logger.warn(`Events reach this instance's clients only while Redis is unavailable (${reason})`);
    this.publishFailing = true;
  }

  async onApplicationShutdown(): Promise<void> {
    this.subject.complete();
    // close() would wait for commands queued while disconnected; destroy() drops them.
    if (this.subscriber?.isReady) await this.subscriber.close().catch(() => undefined);
    else if (this.subscriber?.isOpen) this.subscriber.destroy();
  }
}
