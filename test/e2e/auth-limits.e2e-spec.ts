import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PASSWORD, register } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
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

describe('failed sign-ins per address', () => {
  const FAILURES = 5;
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_FAILURES_PER_IP: String(FAILURES) });
    db = t.app.get(DataSource);
  });
  afterAll(() => t?.close());

  const attempt = (email: string, password = 'wrong password here') => t.http(`${API}/auth/login`, { method: 'POST', json: { email, password } });
  const auditedFailures = async () => (await db.query(`SELECT count(*)::int AS count FROM audit_events WHERE action = 'auth.login_failed'`))[0].count as number;

  it('caps failures whatever the emails tried: past the cap, 429 with Retry-After, before any password check or audit event', async () => {
    const user = await register(t);
    // Successful sign-ins are not failures, however many.
    for (let i = 0; i < FAILURES * 2; i++) expect((await attempt(user.email, PASSWORD)).status).toBe(200);

    // At once, each with another email: exactly the cap get through to the password check.
    const statuses = (await Promise.all(Array.from({ length: FAILURES * 4 }, () => attempt(`rotating-${randomUUID()}@example.com`)))).map((r) => r.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(FAILURES);
    expect(statuses.filter((status) => status === 429)).toHaveLength(FAILURES * 3);
    expect(await auditedFailures()).toBe(FAILURES);

    const limited = await attempt(`rotating-${randomUUID()}@example.com`);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // The right password waits as well: nothing is checked, nothing recorded.
    expect((await attempt(user.email, PASSWORD)).status).toBe(429);
    expect(await auditedFailures()).toBe(FAILURES);
    expect((await t.http('/health/live')).status).toBe(200);
  });
});

describe('admin bootstrap', () => {
  const adminPassword = 'admin password 123';
  const login = (t: TestApp, email: string, password: string) => t.http(`${API}/auth/login`, { method: 'POST', json: { email, password } });

  it('creates the configured admin once, idempotently across restarts', async () => {
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
    } finally {
      await second.close();
    }
  });

  it('leaves a demoted admin demoted across a restart, as the audit trail says', async () => {
    // The same database for both lifetimes: a folder for PGlite, a database of its own on PostgreSQL.
    const database = await createTestDatabase();
    const folder = mkdtempSync(join(tmpdir(), 'agentchat-admin-'));
    const env = { ...(database.url ? { DATABASE_URL: database.url } : { DATA_DIR: folder }), ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: adminPassword };
    try {
      const first = await startTestApp(env);
      let rootId = '';
      try {
        const root = (await login(first, 'root@example.com', adminPassword)).body;
        rootId = root.user.id;
        const deputy = await register(first);
        const setRole = (token: string, userId: string, role: string) =>
          first.http(`${API}/admin/users/${userId}`, { method: 'PATCH', token, json: { role } });
        expect((await setRole(root.accessToken, deputy.id, 'admin')).status).toBe(200);
        expect((await setRole(deputy.accessToken, rootId, 'user')).status).toBe(200);
      } finally {
        await first.close();
      }

      const info = vi.spyOn(Logger.prototype, 'log');
      const second = await startTestApp(env);
      try {
        const me = await login(second, 'root@example.com', adminPassword);
        expect(me.body.user).toMatchObject({ id: rootId, role: 'user' });
        expect((await second.http(`${API}/admin/stats`, { token: me.body.accessToken })).status).toBe(403);
        const roleChanges = await second.app.get(DataSource).query(`SELECT details FROM audit_events WHERE action = 'user.role_changed' AND target_id = $1 ORDER BY at`, [rootId]);
        expect(roleChanges.map((row: { details: { role: string } }) => row.details.role)).toEqual(['user']);
        expect(info.mock.calls.map((call) => String(call[0]))).toContainEqual(expect.stringMatching(/ADMIN_EMAIL account exists, with the role user/));
      } finally {
        info.mockRestore();
        await second.close();
      }
    } finally {
      await database.drop();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('does not promote an account that registered ADMIN_EMAIL first, whatever its password, and says so without secrets', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-admin-'));
    const env = { DATA_DIR: dataDir, DATABASE_URL: '' };

    const before = await startTestApp(env);
    try {
      await register(before, { email: 'root@example.com' });
      // Even with the configured password, since anyone may choose it.
      const sameAsConfigured = await before.http(`${API}/auth/register`, { method: 'POST', json: { email: 'boss@example.com', password: adminPassword, displayName: 'Boss' } });
      expect(sameAsConfigured.status).toBe(201);
    } finally {
      await before.close();
    }

    const info = vi.spyOn(Logger.prototype, 'log');
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

      const messages = info.mock.calls.map((call) => String(call[0]));
      expect(messages).toContainEqual(expect.stringMatching(/ADMIN_EMAIL account exists, with the role user/));
      for (const message of messages) {
        expect(message).not.toContain(adminPassword);
        expect(message).not.toContain(PASSWORD);
      }
    } finally {
      info.mockRestore();
      await configured.close();
    }

    const boss = await startTestApp({ ...env, ADMIN_EMAIL: 'boss@example.com', ADMIN_PASSWORD: adminPassword });
    try {
      expect((await login(boss, 'boss@example.com', adminPassword)).body.user.role).toBe('user');
    } finally {
      await boss.close();
    }
  });
});
