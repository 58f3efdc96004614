import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PasswordHasher } from '../../src/auth/password.hasher.js';
import { RefreshTokensRepository } from '../../src/auth/refresh-tokens.repository.js';
import { PASSWORD, register } from '../support/auth.js';
import { decodePayload, signHs256, unsigned } from '../support/jwt.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('auth', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_LIMIT: '1000', REGISTER_RATE_LIMIT: '1000' });
  });
  afterAll(() => t?.close());

  const post = (path: string, json: unknown, token?: string) => t.http(`${API}${path}`, { method: 'POST', json, token });

  describe('POST /auth/register', () => {
    it('creates the account and signs in: 201 {user, accessToken, refreshToken, expiresIn}', async () => {
      const email = `Ada.${randomUUID()}@Example.com`;
      const response = await post('/auth/register', { email: `  ${email}  `, password: PASSWORD, displayName: '  Ada  ' });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        user: {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          email: email.toLowerCase(),
          displayName: 'Ada',
          role: 'user',
          createdAt: expect.any(String),
        },
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: 900,
      });
      expect(response.text).not.toMatch(/password|hash|argon/i);
    });

    it('answers 409 for an email already taken, whatever its case', async () => {
      const { email } = await register(t);
      const response = await post('/auth/register', { email: email.toUpperCase(), password: PASSWORD, displayName: 'Again' });
      expect(response.status).toBe(409);
      expect(response.body).toMatchObject({ statusCode: 409, code: 'EMAIL_TAKEN', requestId: expect.any(String) });
    });

    it('creates exactly one account when the same email registers concurrently', async () => {
      const email = `race-${randomUUID()}@example.com`;
      const statuses = await Promise.all(
        Array.from({ length: 5 }, () => post('/auth/register', { email, password: PASSWORD, displayName: 'Race' })),
      );
      expect(statuses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    });

    it.each([
      ['missing fields', {}, ['email', 'password', 'displayName']],
      ['a bad email', { email: 'not-an-email', password: PASSWORD, displayName: 'X' }, ['email']],
      ['a short password', { email: 'a@example.com', password: 'short', displayName: 'X' }, ['password']],
      ['a password over 128 characters', { email: 'a@example.com', password: 'p'.repeat(129), displayName: 'X' }, ['password']],
      ['a blank display name', { email: 'a@example.com', password: PASSWORD, displayName: '   ' }, ['displayName']],
      ['a display name over 80 characters', { email: 'a@example.com', password: PASSWORD, displayName: 'n'.repeat(81) }, ['displayName']],
      ['wrong types', { email: 42, password: ['x'], displayName: { a: 1 } }, ['email', 'password', 'displayName']],
      ['an unknown field (self-promotion)', { email: 'a@example.com', password: PASSWORD, displayName: 'X', role: 'admin' }, ['role']],
    ])('rejects %s with 400 and per-field details', async (_, body, fields) => {
      const response = await post('/auth/register', body);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION', message: 'Validation failed' });
      expect(Object.keys(response.body.details).sort()).toEqual([...fields].sort());
    });

    it('rejects a password equal to the email', async () => {
      const email = `same-${randomUUID()}@example.com`;
      const response = await post('/auth/register', { email, password: email.toUpperCase(), displayName: 'Same' });
      expect(response.status).toBe(400);
      expect(response.body.details).toHaveProperty('password');
    });

    it('stores SQL and HTML in a display name verbatim', async () => {
      const displayName = `Robert'); DROP TABLE users;-- <img src=x onerror=alert(1)>`.slice(0, 80);
      const response = await post('/auth/register', { email: `sql-${randomUUID()}@example.com`, password: PASSWORD, displayName });
      expect(response.status).toBe(201);
      const me = await t.http(`${API}/auth/me`, { token: response.body.accessToken });
      expect(me.body.displayName).toBe(displayName);
    });
  });

  describe('request bodies', () => {
    it('answers malformed JSON with 400 in the error shape', async () => {
      const response = await t.http(`${API}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email": "a@example.com",',
      });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION', requestId: expect.any(String) });
    });

    it('answers a body over 64 KB with 413, and keeps serving', async () => {
      const response = await post('/auth/register', { email: 'big@example.com', password: PASSWORD, displayName: 'x'.repeat(70_000) });
      expect(response.status).toBe(413);
      expect(response.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
      expect((await t.http('/health/live')).status).toBe(200);
    });

    it('answers a JSON array, a bare string or null as a body with 400', async () => {
      for (const body of ['[1,2]', '"text"', 'null']) {
        const response = await t.http(`${API}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(response.status, body).toBe(400);
        expect(response.body.code).toBe('VALIDATION');
      }
    });

    it('answers an unsupported content type with 415', async () => {
      const response = await t.http(`${API}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
      expect(response.status).toBe(415);
      expect(response.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('POST /auth/login', () => {
    it('signs in with the right password, whatever the email case', async () => {
      const user = await register(t);
      const response = await post('/auth/login', { email: ` ${user.email.toUpperCase()} `, password: PASSWORD });
      expect(response.status).toBe(200);
      expect(response.body.user.id).toBe(user.id);
      expect(response.body.refreshToken).not.toBe(user.refreshToken);
    });

    it('gives unknown email and wrong password the same 401 body', async () => {
      const user = await register(t);
      const wrong = await post('/auth/login', { email: user.email, password: 'not the password' });
      const unknown = await post('/auth/login', { email: `nobody-${randomUUID()}@example.com`, password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
      expect(strip(wrong.body)).toEqual(strip(unknown.body));
      expect(wrong.body).toMatchObject({ code: 'INVALID_CREDENTIALS', message: 'Invalid email or password' });
    });

    it('spends comparable time on an unknown email and on a wrong password', async () => {
      const user = await register(t);
      const time = async (email: string) => {
        const started = performance.now();
        await post('/auth/login', { email, password: 'not the password' });
        return performance.now() - started;
      };
      const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 7; i++) {
        wrong.push(await time(user.email));
        unknown.push(await time(`ghost-${i}@example.com`));
      }
      // Without a dummy hash the unknown-email path would be an order of magnitude faster.
      expect(median(unknown)).toBeGreaterThan(median(wrong) * 0.5);
    });

    it('rejects bad input with 400 before any password work', async () => {
      expect((await post('/auth/login', { email: 'a@example.com' })).status).toBe(400);
      expect((await post('/auth/login', { email: 'a@example.com', password: 'p'.repeat(129) })).status).toBe(400);
      expect((await post('/auth/login', { email: 'a@example.com', password: 'x', extra: true })).status).toBe(400);
    });
  });

  describe('access tokens', () => {
    it('carry sub, iat, exp, jti, iss and aud, signed with HS256', async () => {
      const user = await register(t);
      const [header] = user.accessToken.split('.');
      expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
      const claims = decodePayload(user.accessToken);
      expect(claims).toMatchObject({ sub: user.id, iss: 'agent-chat', aud: 'agent-chat-api', jti: expect.any(String) });
      expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    });

    it('GET /auth/me answers 401 without, and 200 with, a token', async () => {
      const user = await register(t);
      const anonymous = await t.http(`${API}/auth/me`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', requestId: expect.any(String) });
      const me = await t.http(`${API}/auth/me`, { token: user.accessToken });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ id: user.id, email: user.email, displayName: 'Test User', role: 'user', createdAt: expect.any(String) });
    });

    describe('forged or stale tokens are refused', () => {
      let user: Awaited<ReturnType<typeof register>>;
      let claims: Record<string, unknown>;
      beforeAll(async () => {
        user = await register(t);
        claims = decodePayload(user.accessToken);
      });
      const now = () => Math.floor(Date.now() / 1000);

      it.each([
        ['alg none', () => unsigned(claims)],
        ['a wrong signature', () => signHs256(claims, 'another secret that is long enough to look real')],
        ['a tampered payload', () => {
          const [head, , signature] = user.accessToken.split('.');
          const forged = Buffer.from(JSON.stringify({ ...claims, sub: randomUUID() })).toString('base64url');
          return `${head}.${forged}.${signature}`;
        }],
        ['an expired token', () => signHs256({ ...claims, iat: now() - 1000, exp: now() - 10 }, t.config.auth.jwtSecret)],
        ['a wrong issuer', () => signHs256({ ...claims, iss: 'someone-else' }, t.config.auth.jwtSecret)],
        ['a wrong audience', () => signHs256({ ...claims, aud: 'another-api' }, t.config.auth.jwtSecret)],
        ['HS512 instead of the pinned HS256', () => {
          const token = signHs256(claims, t.config.auth.jwtSecret, { alg: 'HS512' });
          return token;
        }],
        ['a subject that is not a user id', () => signHs256({ ...claims, sub: "1' OR '1'='1" }, t.config.auth.jwtSecret)],
        ['garbage', () => 'not.a.jwt'],
      ])('%s → 401', async (_, forge) => {
        const response = await t.http(`${API}/auth/me`, { token: forge() });
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('UNAUTHORIZED');
      });

      it('a correctly signed token is accepted (the forgeries above fail for their flaw only)', async () => {
        const token = signHs256({ ...claims, jti: randomUUID() }, t.config.auth.jwtSecret);
        expect((await t.http(`${API}/auth/me`, { token })).status).toBe(200);
      });
    });
  });

  describe('POST /auth/refresh', () => {
    it('rotates: a new pair, and the old refresh token is spent', async () => {
      const user = await register(t);
      const first = await post('/auth/refresh', { refreshToken: user.refreshToken });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ user: { id: user.id }, accessToken: expect.any(String), expiresIn: 900 });
      expect(first.body.refreshToken).not.toBe(user.refreshToken);
      expect((await t.http(`${API}/auth/me`, { token: first.body.accessToken })).status).toBe(200);

      const second = await post('/auth/refresh', { refreshToken: first.body.refreshToken });
      expect(second.status).toBe(200);
    });

    it('revokes the whole family when a spent token is presented again', async () => {
      const user = await register(t);
      const rotated = await post('/auth/refresh', { refreshToken: user.refreshToken });
      const replay = await post('/auth/refresh', { refreshToken: user.refreshToken });
      expect(replay.status).toBe(401);
      expect(replay.body.code).toBe('INVALID_REFRESH_TOKEN');
      // The token the legitimate client got from the rotation is dead too.
      expect((await post('/auth/refresh', { refreshToken: rotated.body.refreshToken })).status).toBe(401);
    });

    it('lets exactly one of several concurrent refreshes with one token succeed', async () => {
      const user = await register(t);
      const results = await Promise.all(Array.from({ length: 6 }, () => post('/auth/refresh', { refreshToken: user.refreshToken })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    });

    it('does not touch other sessions of the same user', async () => {
      const user = await register(t);
      const other = await post('/auth/login', { email: user.email, password: PASSWORD });
      await post('/auth/refresh', { refreshToken: user.refreshToken });
      await post('/auth/refresh', { refreshToken: user.refreshToken });
      expect((await post('/auth/refresh', { refreshToken: other.body.refreshToken })).status).toBe(200);
    });

    it('refuses unknown and malformed tokens', async () => {
      expect((await post('/auth/refresh', { refreshToken: 'x'.repeat(43) })).status).toBe(401);
      expect((await post('/auth/refresh', { refreshToken: 12345 })).status).toBe(400);
      expect((await post('/auth/refresh', { refreshToken: 'x'.repeat(10_000) })).status).toBe(400);
      expect((await post('/auth/refresh', {})).status).toBe(400);
    });

    it('refuses an expired refresh token', async () => {
      const user = await register(t);
      await t.app.get(DataSource).query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
      expect((await post('/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(401);
    });
  });

  describe('POST /auth/logout', () => {
    it('revokes the session of the refresh token: 204, then refresh fails', async () => {
      const user = await register(t);
      const response = await post('/auth/logout', { refreshToken: user.refreshToken }, user.accessToken);
      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      expect((await post('/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(401);
    });

    it('needs authentication and cannot end someone else\'s session', async () => {
      const alice = await register(t);
      const mallory = await register(t);
      expect((await post('/auth/logout', { refreshToken: alice.refreshToken })).status).toBe(401);
      expect((await post('/auth/logout', { refreshToken: alice.refreshToken }, mallory.accessToken)).status).toBe(204);
      expect((await post('/auth/refresh', { refreshToken: alice.refreshToken })).status).toBe(200);
    });
  });

  describe('PATCH /auth/me', () => {
    it('renames the user', async () => {
      const user = await register(t);
      const response = await t.http(`${API}/auth/me`, { method: 'PATCH', json: { displayName: '  Grace  ' }, token: user.accessToken });
      expect(response.status).toBe(200);
      expect(response.body.displayName).toBe('Grace');
    });

    it('refuses a null displayName or password with 400', async () => {
      const user = await register(t);
      for (const json of [{ displayName: null }, { currentPassword: null, newPassword: 'a brand new password' }]) {
        const response = await t.http(`${API}/auth/me`, { method: 'PATCH', json, token: user.accessToken });
        expect(response.status).toBe(400);
        expect(response.body.code).toBe('VALIDATION');
      }
    });

    it('changes the password only with the current one, and signs out every other session', async () => {
      const user = await register(t);
      const otherSession = await post('/auth/login', { email: user.email, password: PASSWORD });
      const patch = (json: unknown) => t.http(`${API}/auth/me`, { method: 'PATCH', json, token: user.accessToken });

      const missing = await patch({ newPassword: 'a brand new password' });
      expect(missing.status).toBe(400);
      expect(missing.body.details).toHaveProperty('currentPassword');

      const wrong = await patch({ currentPassword: 'not it at all', newPassword: 'a brand new password' });
      expect(wrong.status).toBe(400);
      expect(wrong.body.details).toHaveProperty('currentPassword');

      expect((await patch({ currentPassword: PASSWORD, newPassword: 'short' })).status).toBe(400);
      expect((await patch({ currentPassword: PASSWORD, newPassword: user.email })).status).toBe(400);

      const changed = await patch({ currentPassword: PASSWORD, newPassword: 'a brand new password' });
      expect(changed.status).toBe(200);

      expect((await post('/auth/login', { email: user.email, password: PASSWORD })).status).toBe(401);
      expect((await post('/auth/login', { email: user.email, password: 'a brand new password' })).status).toBe(200);
      expect((await post('/auth/refresh', { refreshToken: otherSession.body.refreshToken })).status).toBe(401);
      expect((await post('/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(200);
    });

    it('keeps the old password and every session when ending the other sessions fails', async () => {
      const user = await register(t);
      const otherSession = await post('/auth/login', { email: user.email, password: PASSWORD });
      // The sessions are marked ended; revoking their refresh tokens, in the same transaction, fails.
      vi.spyOn(t.app.get(RefreshTokensRepository), 'revokeFamilies').mockRejectedValueOnce(new Error('connection lost'));

      const patch = await t.http(`${API}/auth/me`, {
        method: 'PATCH',
        json: { displayName: 'Renamed', currentPassword: PASSWORD, newPassword: 'a brand new password' },
        token: user.accessToken,
      });
      expect(patch.status).toBe(500);

      expect((await post('/auth/login', { email: user.email, password: 'a brand new password' })).status).toBe(401);
      expect((await t.http(`${API}/auth/me`, { token: otherSession.body.accessToken })).body.displayName).toBe('Test User');
      expect((await post('/auth/refresh', { refreshToken: otherSession.body.refreshToken })).status).toBe(200);
      expect((await post('/auth/login', { email: user.email, password: PASSWORD })).status).toBe(200);
    });

    it('starts no session for a sign-in that checked the old password while it was being changed', async () => {
      const user = await register(t);
      const hasher = t.app.get(PasswordHasher);
      const verify = hasher.verify.bind(hasher);
      vi.spyOn(hasher, 'verify').mockImplementationOnce(async (hash, password) => {
        const valid = await verify(hash, password);
        const changed = await t.http(`${API}/auth/me`, {
          method: 'PATCH',
          json: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
          token: user.accessToken,
        });
        expect(changed.status).toBe(200);
        return valid;
      });

      const login = await post('/auth/login', { email: user.email, password: PASSWORD });
      expect(login.status).toBe(401);
      expect(login.body.code).toBe('INVALID_CREDENTIALS');
    });

    it('lets one of two changes checked against the same old password win, the other told its current password is wrong', async () => {
      const user = await register(t);
      const second = (await post('/auth/login', { email: user.email, password: PASSWORD })).body;
      const hasher = t.app.get(PasswordHasher);
      const verify = hasher.verify.bind(hasher);
      // The first change commits after the second has checked the old password.
      vi.spyOn(hasher, 'verify').mockImplementationOnce(async (hash, password) => {
        const valid = await verify(hash, password);
        const first = await t.http(`${API}/auth/me`, { method: 'PATCH', json: { currentPassword: PASSWORD, newPassword: 'the first new password' }, token: user.accessToken });
        expect(first.status).toBe(200);
        return valid;
      });
      const late = await t.http(`${API}/auth/me`, { method: 'PATCH', json: { displayName: 'Late', currentPassword: PASSWORD, newPassword: 'the second new password' }, token: second.accessToken });
      expect(late.status).toBe(400);
      expect(late.body.details).toEqual({ currentPassword: ['currentPassword is incorrect'] });

      expect((await post('/auth/login', { email: user.email, password: 'the first new password' })).status).toBe(200);
      expect((await post('/auth/login', { email: user.email, password: 'the second new password' })).status).toBe(401);
      // Nothing of the losing change was kept, its name included.
      expect((await t.http(`${API}/auth/me`, { token: user.accessToken })).body.displayName).not.toBe('Late');
    });

    it('rejects unknown fields such as role', async () => {
      const user = await register(t);
      const response = await t.http(`${API}/auth/me`, { method: 'PATCH', json: { role: 'admin' }, token: user.accessToken });
      expect(response.status).toBe(400);
      expect(response.body.details).toHaveProperty('role');
    });
  });

  describe('DELETE /auth/me', () => {
    it('ends every session at once and erases personal data', async () => {
      const user = await register(t, { displayName: 'Soon Gone' });
      const response = await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken });
      expect(response.status).toBe(204);

      expect((await t.http(`${API}/auth/me`, { token: user.accessToken })).status).toBe(401);
      expect((await post('/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(401);
      expect((await post('/auth/login', { email: user.email, password: PASSWORD })).status).toBe(401);

      const [row] = await t.app.get(DataSource).query(`SELECT email, display_name, password_hash, deleted_at FROM users WHERE id = $1`, [user.id]);
      expect(row).toMatchObject({ email: null, display_name: 'Deleted user', password_hash: null });
      expect(row.deleted_at).not.toBeNull();

      // The address is free again.
      expect((await post('/auth/register', { email: user.email, password: PASSWORD, displayName: 'New' })).status).toBe(201);
    });

    it('cannot be blocked by registering the address a deleted account used to be given', async () => {
      const victim = await register(t);
      const squatter = await post('/auth/register', { email: `deleted-${victim.id}@deleted.invalid`, password: PASSWORD, displayName: 'Squatter' });
      expect(squatter.status).toBe(201);
      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: victim.accessToken })).status).toBe(204);
      expect((await t.http(`${API}/auth/me`, { token: victim.accessToken })).status).toBe(401);
      expect((await t.http(`${API}/auth/me`, { token: squatter.body.accessToken })).status).toBe(200);
    });

    it('lets two accounts be deleted one after the other (erased rows share no unique value)', async () => {
      const [first, second] = await Promise.all([register(t), register(t)]);
      for (const user of [first!, second!]) expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
    });

    it('answers a second deletion of the same account with 401, erasing nothing twice', async () => {
      const user = await register(t);
      const [a, b] = await Promise.all([
        t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken }),
        t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken }),
      ]);
      expect([a.status, b.status]).toContain(204);
      for (const status of [a.status, b.status]) expect([204, 401]).toContain(status);
    });
  });

  describe('OpenAPI', () => {
    it('documents every auth route with request, response and error schemas', async () => {
      const { body } = await t.http('/api/docs-json');
      const op = (path: string, method: string) => body.paths[`${API}${path}`]?.[method];
      for (const [path, method, success, hasBody] of [
        ['/auth/register', 'post', '201', true],
        ['/auth/login', 'post', '200', true],
        ['/auth/refresh', 'post', '200', true],
        ['/auth/logout', 'post', '204', true],
        ['/auth/logout-all', 'post', '204', false],
        ['/auth/me', 'get', '200', false],
        ['/auth/me', 'patch', '200', true],
        ['/auth/me', 'delete', '204', false],
      ] as const) {
        const operation = op(path, method);
        expect(operation, `${method} ${path}`).toBeDefined();
        expect(Object.keys(operation.responses)).toContain(success);
        const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
        expect(errors.length, `${method} ${path} error responses`).toBeGreaterThan(0);
        for (const [, response] of errors) {
          // 503 may also come from the HTTP server itself while it shuts down: one of two shapes.
          const { schema } = (response as { content: Record<string, { schema: { $ref?: string; anyOf?: { $ref: string }[] } }> }).content['application/json']!;
          expect(schema.$ref ?? schema.anyOf?.[0]?.$ref).toContain('ErrorResponseDto');
        }
        expect(Boolean(operation.requestBody), `${method} ${path} body`).toBe(hasBody);
      }
      expect(op('/auth/me', 'get').security).toEqual([{ bearer: [] }]);
      expect(op('/auth/login', 'post').security).toEqual([]);
      expect(body.components.schemas.AuthResponseDto.required).toEqual(
        expect.arrayContaining(['user', 'accessToken', 'refreshToken', 'expiresIn']),
      );
    });
  });
});
