import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppConfig } from '../../config/app-config.js';
import { bindAddress, packageVersion, startupFields } from './startup.js';

describe('bindAddress', () => {
  it('says the address the socket is bound to, every interface included', () => {
    expect(bindAddress({ address: '0.0.0.0', family: 'IPv4', port: 3000 })).toBe('0.0.0.0:3000');
    expect(bindAddress({ address: '::', family: 'IPv6', port: 8080 })).toBe('[::]:8080');
    expect(bindAddress('/run/app.sock')).toBe('/run/app.sock');
    expect(bindAddress(null)).toBe('not listening');
  });
});

describe('packageVersion', () => {
  it('reads the nearest package.json above the given directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'version-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', version: '3.2.1' }));
    mkdirSync(join(root, 'dist', 'src', 'common'), { recursive: true });
    expect(packageVersion(join(root, 'dist', 'src', 'common'))).toBe('3.2.1');
  });
});

describe('startupFields', () => {
  const env = { NODE_ENV: 'test', DATA_DIR: 'memory://', JWT_SECRET: 'x'.repeat(40) };

  it('names the database server and Redis by host, never their credentials', () => {
    const config = AppConfig.fromEnv({
      ...env,
      DATABASE_URL: 'postgres://app:db-password-1@db.internal:5433/chat?sslmode=require',
      REDIS_URL: 'redis://:redis-password-2@cache.internal:6380/0',
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'gpt-4o-mini',
      OPENAI_API_KEY: 'sk-key-3',
    });
    const fields = startupFields(config, { address: '0.0.0.0', family: 'IPv4', port: 3000 }, '1.0.0');
    expect(fields).toEqual({
      version: '1.0.0',
      nodeEnv: 'test',
      bind: '0.0.0.0:3000',
      database: { type: 'postgres', host: 'db.internal:5433', database: 'chat' },
      redis: 'cache.internal:6380',
      agent: { provider: 'openai', model: 'gpt-4o-mini' },
      jwtSecretSource: 'env',
    });
    expect(JSON.stringify(fields)).not.toMatch(/password|sk-key|xxxx/);
  });

  it('names the embedded database, Redis off and a JWT secret generated for development', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'startup-'));
    const first = startupFields(AppConfig.fromEnv({ NODE_ENV: 'development', DATA_DIR: dataDir }), null, '1.0.0');
    expect(first).toMatchObject({ database: { type: 'embedded', dataDir }, redis: 'off', agent: { provider: 'builtin', model: 'builtin' }, jwtSecretSource: 'generated' });
    // The next start finds the secret the first one kept.
    expect(startupFields(AppConfig.fromEnv({ NODE_ENV: 'development', DATA_DIR: dataDir }), null, '1.0.0').jwtSecretSource).toBe('stored');
    expect(startupFields(AppConfig.fromEnv({ NODE_ENV: 'development', DATA_DIR: 'memory://' }), null, '1.0.0')).toMatchObject({
      database: { type: 'embedded', dataDir: 'in memory' },
      jwtSecretSource: 'generated',
    });
  });
});
