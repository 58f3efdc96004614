import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { createClient as CreateClient, RedisClientType } from 'redis';
import type { RedisSettings } from '../config/redis.config.js';

/**
 * The shared Redis connection, present only when REDIS_URL is set. It reconnects by itself
 * with capped backoff; commands fail fast while it is down instead of queueing without bound.
 */
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly client: RedisClientType | undefined;
  private lastError: string | undefined;

  /** The client library is loaded only when Redis is configured: without it, start-up skips ~0.1 s of imports. */
  static async create(settings: RedisSettings): Promise<RedisConnection> {
    return new RedisConnection(settings, settings.url ? (await import('redis')).createClient : undefined);
  }

  private constructor(settings: RedisSettings, createClient: typeof CreateClient | undefined) {
    if (!settings.url || !createClient) return;
    this.client = createClient({
      url: settings.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
    });
    this.client.on('error', (error: Error) => {
      // Logged once per distinct error, so an outage does not flood the log.
      if (error.message !== this.lastError) this.logger.warn(`Redis unavailable: ${error.message}`);
      this.lastError = error.message;
    });
    this.client.on('ready', () => {
      if (this.lastError) this.logger.log('Redis connection restored');
      this.lastError = undefined;
    });
    this.client.connect().catch(() => undefined);
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  async ping(): Promise<void> {
    if (!this.client?.isReady) throw new Error('not connected');
    await this.client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    // close() lets pending commands finish; while reconnecting there is nothing to finish.
    if (this.client?.isReady) await this.client.close().catch(() => undefined);
    else if (this.client?.isOpen) this.client.destroy();
  }
}
