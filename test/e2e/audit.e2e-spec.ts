import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS } from '../../src/audit/audit-actions.js';
import { PASSWORD, type Registered, register } from '../support/auth.js';
import { testDatabaseServerUrl } from '../support/database.js';
import { decodePayload } from '../support/jwt.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, ADMIN_ENV } from '../support/world.js';

const API = '/api/v1';
const NEW_PASSWORD = 'a brand new passphrase 42';

interface EventRow {
  id: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  conversation_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

describe('audit trail', () => {
  let t: TestApp;
  let db: DataSource;
  let admin: Registered;
  let seen = new Set<string>();
  /** Every credential handed out in this file: none may reach the trail. */
  const secrets = new Set<string>([PASSWORD, NEW_PASSWORD, ADMIN.password]);

  const remember = (user: Registered) => {
    secrets.add(user.accessToken);
    secrets.add(user.refreshToken);
    return user;
  };

  /** The events written since the last call, oldest first. */
  async function newEvents(): Promise<EventRow[]> {
    const rows: EventRow[] = await db.query(`SELECT * FROM audit_events ORDER BY at, id`);
    const fresh = rows.filter((row) => !seen.has(row.id));
    seen = new Set(rows.map((row) => row.id));
    return fresh;
  }

  async function login(email: string, password: string, requestId?: string) {
    const response = await t.http(`${API}/auth/login`, {
      method: 'POST',
      json: { email, password },
      headers: requestId ? { 'x-request-id': requestId } : undefined,
    });
    if (response.status === 200) {
      secrets.add(response.body.accessToken);
      secrets.add(response.body.refreshToken);
    }
    return response;
  }

  async function conversationWith(owner: Registered): Promise<string> {
    const created = await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'Audited' } });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  beforeAll(async () => {
    t = await startTestApp(ADMIN_ENV);
    db = t.app.get(DataSource);
    const response = await login(ADMIN.email, ADMIN.password);
    if (response.status !== 200) throw new Error(`admin login failed: ${response.status}`);
    admin = { id: response.body.user.id, email: ADMIN.email, password: ADMIN.password, accessToken: response.body.accessToken, refreshToken: response.body.refreshToken };
  });

  afterAll(async () => {
    await t?.close();
  });

  beforeEach(async () => {
    await newEvents();
  });

  describe('sign-in', () => {
    it('a successful sign-in leaves one event naming the user and the session, with the request id and address', async () => {
      const user = remember(await register(t));
      expect(await newEvents()).toEqual([]); // registering is not a sign-in
      const response = await login(user.email, PASSWORD, 'req-audit-login-1');
      expect(response.status).toBe(200);
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: 'auth.login',
        actor_id: user.id,
        target_type: 'session',
        target_id: decodePayload(response.body.accessToken).sid,
        request_id: 'req-audit-login-1',
        ip: '127.0.0.1',
      });
    });

    it('a failed sign-in leaves one anonymous event; it names the account only if there is one, and never the email tried', async () => {
      const user = remember(await register(t));
      await newEvents();
      expect((await login(user.email, 'not the password at all')).status).toBe(401);
      const [wrongPassword, ...rest] = await newEvents();
      expect(rest).toEqual([]);
      expect(wrongPassword).toMatchObject({ action: 'auth.login_failed', actor_id: null, target_type: 'user', target_id: user.id, details: { reason: 'invalid-credentials' } });

      const typedPasswordAsEmail = 'hunter2-my-secret@example.com';
      expect((await login(typedPasswordAsEmail, 'whatever password')).status).toBe(401);
      const [unknown, ...more] = await newEvents();
      expect(more).toEqual([]);
      expect(unknown).toMatchObject({ action: 'auth.login_failed', actor_id: null, target_type: null, target_id: null });
      expect(JSON.stringify([wrongPassword, unknown])).not.toMatch(/hunter2|not the password|whatever password|@example\.com/);
    });
  });

  describe('sign-out', () => {
    it('logout leaves one event for the session it ended; the token of another user ends nothing and leaves none', async () => {
      const [alice, bob] = [remember(await register(t)), remember(await register(t))];
      await newEvents();
      const foreign = await t.http(`${API}/auth/logout`, { method: 'POST', token: alice.accessToken, json: { refreshToken: bob.refreshToken } });
      expect(foreign.status).toBe(204);
      expect(await newEvents()).toEqual([]);

      const own = await t.http(`${API}/auth/logout`, { method: 'POST', token: alice.accessToken, json: { refreshToken: alice.refreshToken } });
      expect(own.status).toBe(204);
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'auth.logout', actor_id: alice.id, target_type: 'session', target_id: decodePayload(alice.accessToken).sid });
    });

    it('logout-all leaves one event with the number of sessions it ended', async () => {
      const user = remember(await register(t));
      expect((await login(user.email, PASSWORD)).status).toBe(200);
      await newEvents();
      expect((await t.http(`${API}/auth/logout-all`, { method: 'POST', token: user.accessToken })).status).toBe(204);
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'auth.logout_all', actor_id: user.id, target_type: 'user', target_id: user.id, details: { sessionsEnded: 2 } });
    });
  });

  describe('account', () => {
    it('a password change with a wrong current password leaves no event; a successful one leaves exactly one', async () => {
      const user = remember(await register(t));
      await newEvents();
      const refused = await t.http(`${API}/auth/me`, { method: 'PATCH', token: user.accessToken, json: { currentPassword: 'wrong password here', newPassword: NEW_PASSWORD } });
      expect(refused.status).toBe(400);
      expect(await newEvents()).toEqual([]);

      const changed = await t.http(`${API}/auth/me`, { method: 'PATCH', token: user.accessToken, json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
      expect(changed.status).toBe(200);
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'auth.password_changed', actor_id: user.id, target_type: 'user', target_id: user.id, details: {} });
    });

    it('deleting the account leaves one event, still attributed to the (erased) account', async () => {
      const user = remember(await register(t));
      expect((await login(user.email, PASSWORD, 'req-audit-before-deletion')).status).toBe(200);
      const [signedIn] = await newEvents();
      expect(signedIn).toMatchObject({ action: 'auth.login', actor_id: user.id, ip: '127.0.0.1' });
      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'account.deleted', actor_id: user.id, target_type: 'user', target_id: user.id });
      // What the account did stays on record, but no longer where from.
      const kept: EventRow[] = await db.query(`SELECT * FROM audit_events WHERE actor_id = $1 ORDER BY at, id`, [user.id]);
      expect(kept.map((row) => [row.action, row.ip])).toEqual([
        ['auth.login', null],
        ['account.deleted', null],
      ]);
      expect(kept[0]).toMatchObject({ id: signedIn!.id, request_id: 'req-audit-before-deletion', target_type: 'session', target_id: signedIn!.target_id });
      // A second deletion finds nothing to erase (and its token is refused anyway).
      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken })).status).toBe(401);
      expect(await newEvents()).toEqual([]);
    });
  });

  describe('participants', () => {
    it('adding, changing the role of and removing a participant each leave one event; refused changes and no-ops leave none', async () => {
      const [owner, guest, outsider] = [remember(await register(t)), remember(await register(t)), remember(await register(t))];
      const id = await conversationWith(owner);
      await newEvents();
      const add = (by: Registered, role: string) =>
        t.http(`${API}/conversations/${id}/participants`, { method: 'POST', token: by.accessToken, json: { userId: guest.id, role } });

      expect((await add(outsider, 'member')).status).toBe(404);
      expect(await newEvents()).toEqual([]);

      expect((await add(owner, 'member')).status).toBe(201);
      let events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'participant.added', actor_id: owner.id, target_type: 'user', target_id: guest.id, conversation_id: id, details: { role: 'member', previousRole: null } });

      expect((await add(owner, 'member')).status).toBe(201); // the role it has: nothing changes
      expect(await newEvents()).toEqual([]);

      expect((await add(owner, 'viewer')).status).toBe(201);
      events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'participant.role_changed', actor_id: owner.id, target_id: guest.id, conversation_id: id, details: { role: 'viewer', previousRole: 'member' } });

      // A viewer may not remove the owner; leaving is their own, recorded as done by them.
      expect((await t.http(`${API}/conversations/${id}/participants/${owner.id}`, { method: 'DELETE', token: guest.accessToken })).status).toBe(403);
      expect(await newEvents()).toEqual([]);
      expect((await t.http(`${API}/conversations/${id}/participants/${guest.id}`, { method: 'DELETE', token: guest.accessToken })).status).toBe(204);
      events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'participant.removed', actor_id: guest.id, target_type: 'user', target_id: guest.id, conversation_id: id });
    });
  });

  describe('roles', () => {
    const setRole = (by: Registered, userId: string, role: unknown) => t.http(`${API}/admin/users/${userId}`, { method: 'PATCH', token: by.accessToken, json: { role } });

    it('only admins change roles; a promotion applies to the live sessions of the user at once and leaves one event', async () => {
      const user = remember(await register(t));
      await newEvents();
      expect((await setRole(user, user.id, 'admin')).status).toBe(403);
      expect((await t.http(`${API}/admin/audit`, { token: user.accessToken })).status).toBe(403);
      expect((await setRole(admin, user.id, 'superuser')).status).toBe(400);
      expect((await setRole(admin, '00000000-0000-4000-8000-000000000000', 'admin')).status).toBe(404);
      expect(await newEvents()).toEqual([]);

      const promoted = await setRole(admin, user.id, 'admin');
      expect(promoted.status).toBe(200);
      expect(promoted.body).toMatchObject({ id: user.id, role: 'admin' });
      const events = await newEvents();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'user.role_changed', actor_id: admin.id, target_type: 'user', target_id: user.id, details: { role: 'admin', previousRole: 'user' } });
      // The token issued before the promotion speaks with the new role, without a new sign-in.
      expect((await t.http(`${API}/admin/audit`, { token: user.accessToken })).status).toBe(200);

      expect((await setRole(admin, user.id, 'admin')).status).toBe(200); // unchanged: no event
      expect(await newEvents()).toEqual([]);
      expect((await setRole(admin, user.id, 'user')).status).toBe(200);
      expect(await newEvents()).toHaveLength(1);
      expect((await t.http(`${API}/admin/audit`, { token: user.accessToken })).status).toBe(403);
    });

    it('the last admin cannot step down', async () => {
      expect((await setRole(admin, admin.id, 'user')).status).toBe(409);
      expect(await newEvents()).toEqual([]);
    });

    // Only a server with many connections runs the two transactions at once: the embedded database
    // has one connection, which runs them one after the other, so there the race cannot happen.
    it.runIf(testDatabaseServerUrl())('of two admins demoting each other at once, one remains', async () => {
      const other = remember(await register(t));
      expect((await setRole(admin, other.id, 'admin')).status).toBe(200);
      await newEvents();
      const [first, second] = await Promise.all([setRole(admin, other.id, 'user'), setRole(other, admin.id, 'user')]);
      const statuses = [first.status, second.status].sort();
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      expect(await newEvents()).toHaveLength(1);
      const admins: { id: string }[] = await db.query(`SELECT id FROM users WHERE role = 'admin' AND deleted_at IS NULL`);
      expect(admins).toHaveLength(1);
      // The fixture admin is the admin again for what follows, whichever of the two won.
      const [survivor, demoted] = admins[0]!.id === admin.id ? [admin, other] : [other, admin];
      expect((await setRole(survivor, demoted.id, 'admin')).status).toBe(200);
      expect((await setRole(admin, other.id, 'user')).status).toBe(200);
    });
  });

  describe('GET /admin/audit', () => {
    const list = (query: string, token = admin.accessToken) => t.http(`${API}/admin/audit${query}`, { token });

    it('pages newest first through every event exactly once', async () => {
      const user = remember(await register(t));
      for (let i = 0; i < 5; i++) expect((await login(user.email, PASSWORD)).status).toBe(200);
      const total = Number((await db.query(`SELECT count(*)::int AS n FROM audit_events`))[0].n);
      const ids: string[] = [];
      const ats: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(`?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(3);
        ids.push(...page.body.items.map((item: { id: string }) => item.id));
        ats.push(...page.body.items.map((item: { at: string }) => item.at));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(ids).toHaveLength(total);
      expect(new Set(ids).size).toBe(total);
      expect(ats.toSorted().toReversed()).toEqual(ats);
    });

    it('filters by actor and by action', async () => {
      const user = remember(await register(t));
      expect((await login(user.email, PASSWORD)).status).toBe(200);
      expect((await login(user.email, 'a wrong password')).status).toBe(401);
      expect((await t.http(`${API}/auth/logout-all`, { method: 'POST', token: user.accessToken })).status).toBe(204);

      const byActor = await list(`?actorId=${user.id}`);
      expect(byActor.status).toBe(200);
      expect(byActor.body.items.map((item: { action: string }) => item.action)).toEqual(['auth.logout_all', 'auth.login']);
      const byBoth = await list(`?actorId=${user.id}&action=auth.login`);
      expect(byBoth.body.items).toHaveLength(1);
      const failures = await list(`?action=auth.login_failed&limit=100`);
      expect(failures.body.items.length).toBeGreaterThan(0);
      expect(failures.body.items.every((item: { action: string; actorId: string | null }) => item.action === 'auth.login_failed' && item.actorId === null)).toBe(true);
      expect(failures.body.items.some((item: { targetId: string | null }) => item.targetId === user.id)).toBe(true);
    });

    // A date without a time and offset would be read in the database session's time zone.
    const cursorOf = (at: string, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');

    it('refuses non-admins, malformed filters and forged cursors', async () => {
      const user = remember(await register(t));
      expect((await list('', user.accessToken)).status).toBe(403);
      expect((await t.http(`${API}/admin/audit`)).status).toBe(401);
      for (const query of ['?action=auth.nope', '?actorId=not-a-uuid', '?limit=0', '?limit=101', '?cursor=abc', `?cursor=${cursorOf('yesterday', 'x')}`, `?cursor=${cursorOf('2024-01-01', randomUUID())}`]) {
        const response = await list(query);
        expect(response.status, query).toBe(400);
        expect(response.body.code).toBe('VALIDATION');
      }
    });
  });

  it('every action is one of the known ones, and no event holds a password, a token or a password hash', async () => {
    const rows: EventRow[] = await db.query(`SELECT * FROM audit_events`);
    const hashes: { password_hash: string }[] = await db.query(`SELECT password_hash FROM users WHERE password_hash IS NOT NULL`);
    expect(rows.length).toBeGreaterThan(10);
    const text = JSON.stringify(rows);
    for (const row of rows) expect(AUDIT_ACTIONS).toContain(row.action);
    for (const secret of [...secrets, ...hashes.map((row) => row.password_hash)]) expect(text.includes(secret), 'a secret in the audit trail').toBe(false);
  });
});
