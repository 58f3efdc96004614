import { type Env, readUrl } from './env.js';

export interface RedisSettings {
  /** Enables scale-out (shared rooms, presence, event bus) when set. */
  url: string | undefined;
}

export function parseRedisSettings(env: Env): RedisSettings {
  return { url: readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']) };
}
