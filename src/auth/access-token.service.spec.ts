import { JwtService } from '@nestjs/jwt';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signHs256 } from '../../test/support/jwt.js';
import type { AppConfig } from '../config/app-config.js';
import type { AuthSettings } from '../config/auth.config.js';
import type { RealtimeBus } from '../realtime/realtime-bus.js';
import type { UsersService } from '../users/users.service.js';
import { AccessTokenService, jwtOptions } from './access-token.service.js';
import type { SessionsService } from './sessions.service.js';

const auth = { jwtSecret: 's'.repeat(48), jwtIssuer: 'agent-chat', jwtAudience: 'agent-chat-api', accessTtlSeconds: 60 } as AuthSettings;
const USER = { id: '7d0f5c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f', email: 'a@example.com', displayName: 'A', role: 'user' as const };

/** The service with its signing key; the session is live and the account exists, as far as it asks. */
function service(): AccessTokenService {
  const config = { auth } as unknown as AppConfig;
  const users = { findActive: async () => USER } as unknown as UsersService;
  const sessions = { state: async () => ({ status: 'live' }) } as unknown as SessionsService;
  const bus = { events$: new Subject(), publish: () => undefined } as unknown as RealtimeBus;
  return new AccessTokenService(new JwtService(jwtOptions(auth)), config, users, bus, sessions);
}

describe('AccessTokenService.authenticate, checking each token once', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps refusing a token from the second it expires, after accepting it before', async () => {
    vi.useFakeTimers({ now: new Date('2026-06-01T12:00:00.000Z'), toFake: ['Date'] });
    const tokens = service();
    const { accessToken } = await tokens.issue(USER, 'c5a1e0f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b');
    expect((await tokens.authenticate(accessToken)).id).toBe(USER.id);
    vi.setSystemTime(new Date('2026-06-01T12:00:59.999Z'));
    expect((await tokens.authenticate(accessToken)).expiresAt).toBe(Date.parse('2026-06-01T12:01:00.000Z'));
    vi.setSystemTime(new Date('2026-06-01T12:01:00.000Z'));
    for (let attempt = 0; attempt < 2; attempt++) await expect(tokens.authenticate(accessToken)).rejects.toThrow('Missing, invalid or expired access token');
  });

  it('refuses a token differing from an accepted one by its signature', async () => {
    const tokens = service();
    const { accessToken } = await tokens.issue(USER, 'c5a1e0f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b');
    await tokens.authenticate(accessToken);
    const [header, payload] = accessToken.split('.');
    await expect(tokens.authenticate(`${header}.${payload}.${'A'.repeat(43)}`)).rejects.toThrow('Missing, invalid or expired access token');
    const foreign = signHs256(JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>, 'another secret');
    await expect(tokens.authenticate(foreign)).rejects.toThrow('Missing, invalid or expired access token');
    expect((await tokens.authenticate(accessToken)).id).toBe(USER.id);
  });
});
