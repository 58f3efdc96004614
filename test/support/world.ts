import { PASSWORD, type Registered, register } from './auth.js';
import type { TestApp } from './test-app.js';

export const ADMIN = { email: 'admin@example.com', password: 'admin password 123' };
export const ADMIN_ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };

export interface World {
  owner: Registered;
  member: Registered;
  viewer: Registered;
  outsider: Registered;
  /** Needs the app to be started with ADMIN_ENV. */
  admin: Registered;
  conversationId: string;
}

/** A conversation with one user in each role, an outsider, and an admin who takes no part. */
export async function createWorld(t: TestApp, agentMode: 'auto' | 'mention' | 'off' = 'off'): Promise<World> {
  const [owner, member, viewer, outsider] = await Promise.all([register(t), register(t), register(t), register(t)]);
  const login = await t.http('/api/v1/auth/login', { method: 'POST', json: ADMIN });
  if (login.status !== 200) throw new Error(`admin login failed: ${login.status}`);
  const admin: Registered = {
    id: login.body.user.id,
    email: ADMIN.email,
    password: ADMIN.password,
    accessToken: login.body.accessToken,
    refreshToken: login.body.refreshToken,
  };
  const created = await t.http('/api/v1/conversations', {
    method: 'POST',
    token: owner!.accessToken,
    json: { title: 'World', participantIds: [member!.id], agent: { mode: agentMode } },
  });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
  const conversationId = created.body.id as string;
  await t.http(`/api/v1/conversations/${conversationId}/participants`, {
    method: 'POST',
    token: owner!.accessToken,
    json: { userId: viewer!.id, role: 'viewer' },
  });
  return { owner: owner!, member: member!, viewer: viewer!, outsider: outsider!, admin, conversationId };
}

export { PASSWORD };
