import { resolve } from 'node:path';
import { ConfigError, type Env, readBool, readEnum, readInt, readList, readSecret, readString } from './env.js';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
/** DATA_DIR value that keeps the embedded database (and a generated secret) in memory only. */
export const IN_MEMORY = 'memory://';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface AppSettings {
  nodeEnv: (typeof NODE_ENVS)[number];
  host: string;
  port: number;
  /** Absolute path holding the embedded database and the generated development secret, or IN_MEMORY. */
  dataDir: string;
  corsOrigins: string[];
  bodyLimit: number;
  logLevel: (typeof LOG_LEVELS)[number];
  trustProxy: boolean;
  /** How long readiness reports 503 before the server stops accepting connections. */
  shutdownDrainMs: number;
  /** Hard limit for a graceful shutdown; the process exits with code 1 past it. */
  shutdownTimeoutMs: number;
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | undefined;
  /** Serve Swagger UI at /api/docs and the OpenAPI document at /api/docs-json. */
  apiDocs: boolean;
}

const METRICS_TOKEN_MIN = 16;

function readMetricsToken(env: Env): string | undefined {
  const token = readSecret(env, 'METRICS_TOKEN');
  if (token !== undefined && (token.length < METRICS_TOKEN_MIN || /\s/.test(token))) {
    throw new ConfigError(`Invalid environment variable METRICS_TOKEN: expected at least ${METRICS_TOKEN_MIN} characters without spaces`);
  }
  return token;
}

/** DATA_DIR as an absolute path, or undefined for memory://. */
export function readDataDir(env: Env): string | undefined {
  const dataDir = readString(env, 'DATA_DIR', './data');
  return dataDir === IN_MEMORY ? undefined : resolve(dataDir);
}

export function parseAppSettings(env: Env): AppSettings {
  const corsOrigins = readList(env, 'CORS_ORIGINS');
  for (const origin of corsOrigins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(
        `Invalid environment variable CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com`,
      );
    }
  }
  const dataDir = readDataDir(env);
  return {
    nodeEnv: readEnum(env, 'NODE_ENV', NODE_ENVS, 'development'),
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readInt(env, 'PORT', 3000, { min: 0, max: 65535 }),
    dataDir: dataDir ?? IN_MEMORY,
    corsOrigins: corsOrigins.map((origin) => origin.replace(/\/$/, '')),
    bodyLimit: readInt(env, 'BODY_LIMIT', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    trustProxy: readBool(env, 'TRUST_PROXY', false),
    shutdownDrainMs: readInt(env, 'SHUTDOWN_DRAIN_MS', 0, { min: 0, max: 60_000 }),
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, { min: 1000, max: 120_000 }),
    metricsToken: readMetricsToken(env),
    apiDocs: readBool(env, 'API_DOCS', true),
  };
}
