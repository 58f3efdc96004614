import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AppSettings, IN_MEMORY } from './app.config.js';
import { ConfigError, type Env, readInt, readSecret, readString } from './env.js';

export const MIN_JWT_SECRET_BYTES = 32;

/** Where the JWT secret came from: JWT_SECRET, generated at this start, or generated earlier and kept under DATA_DIR. */
export type JwtSecretSource = 'env' | 'generated' | 'stored';

export interface AuthSettings {
  jwtSecret: string;
  jwtSecretSource: JwtSecretSource;
  jwtIssuer: string;
  jwtAudience: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  loginRateLimitPerMinute: number;
  /** Failed sign-ins one client address may make in 15 minutes, whatever the emails. */
  loginFailuresPerIp: number;
  /** How often the sessions of open sockets and SSE streams are checked again, in case an end was missed. */
  sessionCheckIntervalMs: number;
  registerRateLimitPerMinute: number;
  /** How long a stream ticket (`?ticket=` for EventSource) may wait for its one use. */
  streamTicketTtlSeconds: number;
  /** Stream tickets one user may ask for per minute. */
  streamTicketRateLimitPerMinute: number;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
}

/**
 * Production demands an explicit, strong secret. Elsewhere a random one is generated once and
 * kept under DATA_DIR, so tokens survive restarts without anyone having to configure a secret.
 */
function resolveJwtSecret(env: Env, app: AppSettings): { jwtSecret: string; jwtSecretSource: JwtSecretSource } {
  const configured = readSecret(env, 'JWT_SECRET');
  if (configured !== undefined) {
    if (Buffer.byteLength(configured) < MIN_JWT_SECRET_BYTES) {
      throw new ConfigError(
        `Invalid environment variable JWT_SECRET: must be at least ${MIN_JWT_SECRET_BYTES} bytes long`,
      );
    }
    return { jwtSecret: configured, jwtSecretSource: 'env' };
  }
  if (app.nodeEnv === 'production') {
    throw new ConfigError(
      `Missing environment variable JWT_SECRET: required in production (at least ${MIN_JWT_SECRET_BYTES} bytes)`,
    );
  }
  const generated = randomBytes(48).toString('base64url');
  if (app.dataDir === IN_MEMORY) return { jwtSecret: generated, jwtSecretSource: 'generated' };
  const file = join(app.dataDir, 'jwt-secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(stored) >= MIN_JWT_SECRET_BYTES) return { jwtSecret: stored, jwtSecretSource: 'stored' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(app.dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${generated}\n`, { mode: 0o600 });
  return { jwtSecret: generated, jwtSecretSource: 'generated' };
}

export function parseAuthSettings(env: Env, app: AppSettings): AuthSettings {
  const adminEmail = readString(env, 'ADMIN_EMAIL');
  const adminPassword = readSecret(env, 'ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError('Invalid environment variable ADMIN_PASSWORD: ADMIN_EMAIL and ADMIN_PASSWORD go together');
  }
  return {
    ...resolveJwtSecret(env, app),
    jwtIssuer: readString(env, 'JWT_ISSUER', 'agent-chat'),
    jwtAudience: readString(env, 'JWT_AUDIENCE', 'agent-chat-api'),
    accessTtlSeconds: readInt(env, 'JWT_ACCESS_TTL', 900, { min: 30, max: 86_400 }),
    refreshTtlSeconds: readInt(env, 'JWT_REFRESH_TTL', 30 * 86_400, { min: 300, max: 365 * 86_400 }),
    loginRateLimitPerMinute: readInt(env, 'LOGIN_RATE_LIMIT', 10, { min: 1, max: 100_000 }),
    loginFailuresPerIp: readInt(env, 'LOGIN_FAILURES_PER_IP', 100, { min: 1, max: 1_000_000 }),
    sessionCheckIntervalMs: readInt(env, 'SESSION_CHECK_INTERVAL_MS', 1000, { min: 100, max: 600_000 }),
    registerRateLimitPerMinute: readInt(env, 'REGISTER_RATE_LIMIT', 20, { min: 1, max: 100_000 }),
    streamTicketTtlSeconds: readInt(env, 'STREAM_TICKET_TTL_SECONDS', 60, { min: 1, max: 600 }),
    streamTicketRateLimitPerMinute: readInt(env, 'STREAM_TICKET_RATE_LIMIT', 30, { min: 1, max: 100_000 }),
    adminEmail,
    adminPassword,
  };
}
