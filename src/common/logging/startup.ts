import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { IN_MEMORY } from '../../config/app.config.js';
import type { AppConfig } from '../../config/app-config.js';

/** The version in the nearest package.json above `from` (this file sits in src/ from source, in dist/src/ when built). */
export function packageVersion(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
      if (typeof version === 'string') return version;
    } catch {
      // none here, or unreadable: look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** Where the server listens, as the socket says (0.0.0.0 stays 0.0.0.0: every interface). */
export function bindAddress(address: string | AddressInfo | null): string {
  if (address === null) return 'not listening';
  if (typeof address === 'string') return address;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** The database without its credentials: the embedded one's directory, or a server's host and database. */
function databaseOf(config: AppConfig): Record<string, string> {
  const { url } = config.database;
  if (!url) return { type: 'embedded', dataDir: config.app.dataDir === IN_MEMORY ? 'in memory' : config.app.dataDir };
  const parsed = new URL(url);
  return { type: 'postgres', host: parsed.host || 'default', database: decodeURIComponent(parsed.pathname.slice(1)) || 'default' };
}

/**
 * What an operator checks first after a start, in one log line: version, the real bind address,
 * the database, Redis, the agent and whether the JWT secret was generated (a development set-up).
 * Never a password, key or secret.
 */
export function startupFields(config: AppConfig, address: string | AddressInfo | null, version = packageVersion()): Record<string, unknown> {
  return {
    version,
    nodeEnv: config.app.nodeEnv,
    bind: bindAddress(address),
    database: databaseOf(config),
    redis: config.redis.url ? new URL(config.redis.url).host : 'off',
    agent: { provider: config.agent.provider, model: config.agent.model },
    jwtSecretSource: config.auth.jwtSecretSource,
  };
}
