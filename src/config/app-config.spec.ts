import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppConfig } from './app-config.js';
import { ConfigError } from './env.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'agentchat-config-'));
const strongSecret = 'x'.repeat(32);

describe('AppConfig.fromEnv', () => {
  it('applies documented defaults', () => {
    const config = AppConfig.fromEnv({ DATA_DIR: tempDir() });
    expect(config.app).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      bodyLimit: 65_536,
      corsOrigins: [],
      shutdownTimeoutMs: 10_000,
      apiDocs: true,
    });
    expect(config.database).toMatchObject({ url: undefined, migrationsRun: true, poolSize: 10 });
    expect(config.redis.url).toBeUndefined();
    expect(config.auth).toMatchObject({
      jwtIssuer: 'agent-chat',
      jwtAudience: 'agent-chat-api',
      accessTtlSeconds: 900,
      refreshTtlSeconds: 2_592_000,
      loginRateLimitPerMinute: 10,
      loginFailuresPerIp: 100,
      registerRateLimitPerMinute: 20,
    });
  });

  it.each([
    [{ PORT: 'abc' }, /PORT: expected an integer between 0 and 65535, got "abc"/],
    [{ PORT: '70000' }, /PORT/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV: expected one of development, production, test/],
    [{ MIGRATIONS_RUN: 'maybe' }, /MIGRATIONS_RUN: expected true or false/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ DATABASE_POOL_SIZE: '0' }, /DATABASE_POOL_SIZE/],
    [{ CORS_ORIGINS: 'https://ok.example.com,not a url' }, /CORS_ORIGINS: "not a url" is not an origin/],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, /CORS_ORIGINS/],
    [{ REDIS_URL: 'http://localhost:6379' }, /REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/],
    [{ JWT_ACCESS_TTL: '-5' }, /JWT_ACCESS_TTL/],
    [{ LOGIN_FAILURES_PER_IP: '0' }, /LOGIN_FAILURES_PER_IP/],
    [{ API_DOCS: 'internal' }, /API_DOCS: expected true or false, got "internal"/],
  ])('rejects %o with a one-line error naming the variable', (env, message) => {
    const attempt = () => AppConfig.fromEnv({ DATA_DIR: tempDir(), ...env });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    expect(attempt).not.toThrow(/\n/);
  });

  it('never echoes a database URL, which may carry a password', () => {
    const attempt = () => AppConfig.fromEnv({ DATA_DIR: tempDir(), DATABASE_URL: 'mysql://app:hunter2@db/app' });
    expect(attempt).toThrow(/DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  describe('JWT_SECRET', () => {
    it('is required in production', () => {
      expect(() => AppConfig.fromEnv({ NODE_ENV: 'production', DATA_DIR: tempDir() })).toThrow(
        /Missing environment variable JWT_SECRET/,
      );
    });

    it('must be at least 32 bytes, and the error does not reveal it', () => {
      const attempt = () => AppConfig.fromEnv({ NODE_ENV: 'production', JWT_SECRET: 'short-secret', DATA_DIR: tempDir() });
      expect(attempt).toThrow(/JWT_SECRET: must be at least 32 bytes/);
      expect(attempt).not.toThrow(/short-secret/);
    });

    it('is used as given when strong enough', () => {
      const config = AppConfig.fromEnv({ NODE_ENV: 'production', JWT_SECRET: strongSecret, DATA_DIR: tempDir() });
      expect(config.auth.jwtSecret).toBe(strongSecret);
    });

    it('is generated once in development and kept under DATA_DIR with owner-only permissions', () => {
      const dataDir = tempDir();
      const first = AppConfig.fromEnv({ DATA_DIR: dataDir }).auth.jwtSecret;
      const second = AppConfig.fromEnv({ DATA_DIR: dataDir }).auth.jwtSecret;
      expect(Buffer.byteLength(first)).toBeGreaterThanOrEqual(32);
      expect(second).toBe(first);
      const file = join(dataDir, 'jwt-secret');
      expect(readFileSync(file, 'utf8').trim()).toBe(first);
      expect(statSync(file).mode & 0o077).toBe(0);
    });

    it('is ephemeral when DATA_DIR is memory://', () => {
      const a = AppConfig.fromEnv({ DATA_DIR: 'memory://' });
      const b = AppConfig.fromEnv({ DATA_DIR: 'memory://' });
      expect(a.app.dataDir).toBe('memory://');
      expect(a.auth.jwtSecret).not.toBe(b.auth.jwtSecret);
    });
  });

  it('requires ADMIN_EMAIL and ADMIN_PASSWORD together', () => {
    expect(() => AppConfig.fromEnv({ DATA_DIR: tempDir(), ADMIN_EMAIL: 'root@example.com' })).toThrow(/ADMIN_PASSWORD/);
  });

  it('treats empty variables as unset', () => {
    const config = AppConfig.fromEnv({ DATA_DIR: tempDir(), PORT: '', DATABASE_URL: '  ' });
    expect(config.app.port).toBe(3000);
    expect(config.database.url).toBeUndefined();
  });
});
