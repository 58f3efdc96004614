import { type Env, readInt } from './env.js';

export interface LimitSettings {
  messageMaxLength: number;
  messageRateLimit: number;
  messageRateWindowMs: number;
  /** Largest Socket.IO frame; a bigger one drops only the socket that sent it. */
  wsMaxBufferBytes: number;
  wsPingIntervalMs: number;
  wsPingTimeoutMs: number;
}

export function parseLimitSettings(env: Env): LimitSettings {
  return {
    messageMaxLength: readInt(env, 'MESSAGE_MAX_LENGTH', 16_000, { min: 1, max: 1_000_000 }),
    messageRateLimit: readInt(env, 'MESSAGE_RATE_LIMIT', 30, { min: 1, max: 1_000_000 }),
    messageRateWindowMs: readInt(env, 'MESSAGE_RATE_WINDOW_SECONDS', 10, { min: 1, max: 3600 }) * 1000,
    wsMaxBufferBytes: readInt(env, 'WS_MAX_BUFFER_BYTES', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    // Below the 60 s idle timeout of common proxies and load balancers.
    wsPingIntervalMs: readInt(env, 'WS_PING_INTERVAL_MS', 25_000, { min: 1000, max: 300_000 }),
    wsPingTimeoutMs: readInt(env, 'WS_PING_TIMEOUT_MS', 20_000, { min: 1000, max: 300_000 }),
  };
}
