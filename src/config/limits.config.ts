import { type Env, readInt } from './env.js';

export interface LimitSettings {
  messageMaxLength: number;
  messageRateLimit: number;
  messageRateWindowMs: number;
}

export function parseLimitSettings(env: Env): LimitSettings {
  return {
    messageMaxLength: readInt(env, 'MESSAGE_MAX_LENGTH', 16_000, { min: 1, max: 1_000_000 }),
    messageRateLimit: readInt(env, 'MESSAGE_RATE_LIMIT', 30, { min: 1, max: 1_000_000 }),
    messageRateWindowMs: readInt(env, 'MESSAGE_RATE_WINDOW_SECONDS', 10, { min: 1, max: 3600 }) * 1000,
  };
}
