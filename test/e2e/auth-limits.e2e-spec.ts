import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PASSWORD, register } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('brute-force limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_LIMIT: '3', REGISTER_RATE_LIMIT: '2' });
  });
  afterAll(() => t?.close());

  it('limits login attempts per IP and email, with 429, Retry-After and the error shape', async () => {
    const user = await register(t);
    const attempt = (email: string, password = 'wrong password here') =>
      t.http(`${API}/auth/login`, { method: 'POST', json: { email, password } });

    for (let i = 0; i < 3; i++) expect((await attempt(user.email)).status).toBe(401);
    const limited = await attempt(user.email.toUpperCase());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED', requestId: expect.any(String) });
    // Even the right password waits: the limit applies before credentials are checked.
    expect((await attempt(user.email, PASSWORD)).status).toBe(429);
    // Another account from the same address is not locked out by this one.
    expect((await attempt(`other-${randomUUID()}@example.com`)).status).toBe(401);
  });

  it('limits registrations per IP', async () => {
    const attempt = () =>
      t.http(`${API}/auth/register`, {
        method: 'POST',
        json: { email: `limit-${randomUUID()}@example.com`, password: PASSWORD, displayName: 'L' },
      });
    // register() above already used one of the two registrations in this window.
    expect((await attempt()).status).toBe(201);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await t.http('/health/live')).status).toBe(200);
  });
});

describe('admin bootstrap', () => {
  const adminPassword = 'admin password 123';
  const login = (t: TestApp, email: string, password: string) => t.http(`${API}/auth/login`, { method: 'POST', json: { email, password } });

  it('creates the configured admin once, idempotently across restarts, and promotes an existing account whose password is ADMIN_PASSWORD', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-admin-'));
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', ADMIN_EMAIL: ' Root@Example.com ', ADMIN_PASSWORD: adminPassword };

    const first = await startTestApp(env);
    try {
      const response = await login(first, 'root@example.com', adminPassword);
      expect(response.status).toBe(200);
      expect(response.body.user.role).toBe('admin');
    } finally {
      await first.close();
    }

    const second = await startTestApp(env);
    try {
      const [{ count }] = await second.app.get(DataSource).query(`SELECT count(*)::int AS count FROM users WHERE role = 'admin'`);
      expect(count).toBe(1);
      // The operator registers the account first, then configures its password as ADMIN_PASSWORD.
      const boss = await second.http(`${API}/auth/register`, { method: 'POST', json: { email: 'boss@example.com', password: adminPassword, displayName: 'Boss' } });
      expect(boss.status).toBe(201);
      expect(boss.body.user.role).toBe('user');
    } finally {
      await second.close();
    }

    const third = await startTestApp({ ...env, ADMIN_EMAIL: 'boss@example.com' });
    try {
      const me = await login(third, 'boss@example.com', adminPassword);
      expect(me.body.user.role).toBe('admin');
      expect((await third.http(`${API}/admin/stats`, { token: me.body.accessToken })).status).toBe(200);
    } finally {
      await third.close();
    }
  });

  it('does not promote an account that registered ADMIN_EMAIL first with another password, and says why without secrets', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-admin-'));
    const env = { DATA_DIR: dataDir, DATABASE_URL: '' };

    const before = await startTestApp(env);
    try {
      await register(before, { email: 'root@example.com' });
    } finally {
      await before.close();
    }

    const warn = vi.spyOn(Logger.prototype, 'warn');
    const configured = await startTestApp({ ...env, ADMIN_EMAIL: 'Root@Example.com', ADMIN_PASSWORD: adminPassword });
    try {
      const squatter = await login(configured, 'root@example.com', PASSWORD);
      expect(squatter.status).toBe(200);
      expect(squatter.body.user.role).toBe('user');
      expect((await configured.http(`${API}/admin/stats`, { token: squatter.body.accessToken })).status).toBe(403);
      // Nor does the configured password open the account.
      expect((await login(configured, 'root@example.com', adminPassword)).status).toBe(401);
      const [{ count }] = await configured.app.get(DataSource).query(`SELECT count(*)::int AS count FROM users WHERE role = 'admin'`);
      expect(count).toBe(0);

      const warnings = warn.mock.calls.map((call) => String(call[0]));
      const conflict = warnings.find((message) => message.includes('ADMIN_EMAIL'));
      expect(conflict).toMatch(/not made an admin/);
      for (const message of warnings) {
        expect(message).not.toContain(adminPassword);
        expect(message).not.toContain(PASSWORD);
      }
    } finally {
      warn.mockRestore();
      await configured.close();
    }
  });
});
