import { randomUUID } from 'node:crypto';
import type { TestApp } from './test-app.js';

export interface Registered {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export const PASSWORD = 'correct horse battery staple';

export async function register(t: TestApp, fields: { email?: string; displayName?: string } = {}): Promise<Registered> {
  const email = fields.email ?? `user-${randomUUID()}@example.com`;
  const response = await t.http('/api/v1/auth/register', {
    method: 'POST',
    json: { email, password: PASSWORD, displayName: fields.displayName ?? 'Test User' },
  });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
  return {
    id: response.body.user.id,
    email: response.body.user.email,
    password: PASSWORD,
    accessToken: response.body.accessToken,
    refreshToken: response.body.refreshToken,
  };
}
