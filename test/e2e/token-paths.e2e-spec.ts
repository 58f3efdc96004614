import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokenService } from '../../src/auth/access-token.service.js';
import { AppError } from '../../src/common/errors.js';
import { type Registered, register } from '../support/auth.js';
import { decodePayload, signHs256, unsigned } from '../support/jwt.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

/** What the token gets: over HTTP, from the handshake's authentication, and from a socket connecting with it. */
interface Outcome {
  http: { status: number; code?: string; details?: unknown };
  handshake: { status: number; code?: string; details?: unknown };
  socket: string;
}

describe('HTTP and the Socket.IO handshake authenticate alike', () => {
  let t: TestApp;
  const now = () => Math.floor(Date.now() / 1000);

  async function outcome(token: string): Promise<Outcome> {
    const response = await t.http(`${API}/auth/me`, { token });
    const http = response.status === 200 ? { status: 200 } : { status: response.status, code: response.body.code, details: response.body.details };
    // The handshake's own step, whose refusal the gateway turns into connect_error "unauthorized".
    const handshake = await t.app
      .get(AccessTokenService)
      .authenticate(token)
      .then(
        () => ({ status: 200 }),
        (error: unknown) => (error instanceof AppError ? { status: error.getStatus(), code: error.code, details: error.details } : { status: 500 }),
      );
    const socket = io(`${t.baseUrl}/chat`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      const connected = await new Promise<string>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', (error) => resolve(error.message));
      });
      return { http, handshake, socket: connected };
    } finally {
      socket.close();
    }
  }

  /** A token of a fresh user, and what remains to be done to it. */
  async function fresh(): Promise<Registered & { claims: Record<string, unknown> }> {
    const user = await register(t);
    return { ...user, claims: decodePayload(user.accessToken) };
  }

  const resign = (claims: Record<string, unknown>) => signHs256({ ...claims, jti: randomUUID() }, t.config.auth.jwtSecret);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('accepts a live token on both', async () => {
    const user = await fresh();
    expect(await outcome(user.accessToken)).toEqual({ http: { status: 200 }, handshake: { status: 200 }, socket: 'connected' });
  });

  it.each<[string, (user: Registered & { claims: Record<string, unknown> }) => Promise<string>, Outcome['http']]>([
    ['an expired token', async ({ claims }) => resign({ ...claims, iat: now() - 100, exp: now() - 10 }), { status: 401, code: 'UNAUTHORIZED' }],
    ['a token without exp', async ({ claims }) => resign({ ...claims, exp: undefined }), { status: 401, code: 'UNAUTHORIZED' }],
    ['a wrong audience', async ({ claims }) => resign({ ...claims, aud: 'another-api' }), { status: 401, code: 'UNAUTHORIZED' }],
    ['alg none', async ({ claims }) => unsigned(claims), { status: 401, code: 'UNAUTHORIZED' }],
    ['a session that does not exist', async ({ claims }) => resign({ ...claims, sid: randomUUID() }), { status: 401, code: 'UNAUTHORIZED' }],
    [
      'a session that was logged out',
      async (user) => {
        expect((await t.http(`${API}/auth/logout`, { method: 'POST', json: { refreshToken: user.refreshToken }, token: user.accessToken })).status).toBe(204);
        return user.accessToken;
      },
      { status: 401, code: 'SESSION_REVOKED', details: { reason: 'logout' } },
    ],
    [
      'a deleted account',
      async (user) => {
        expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
        return user.accessToken;
      },
      { status: 401, code: 'SESSION_REVOKED', details: { reason: 'account-deleted' } },
    ],
  ])('refuses %s the same way on both', async (_, make, refusal) => {
    const token = await make(await fresh());
    const got = await outcome(token);
    expect(got.http).toMatchObject(refusal);
    expect(got.handshake).toEqual(got.http);
    expect(got.socket).toBe('unauthorized');
  });
});
