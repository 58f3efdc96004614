import { randomUUID } from 'node:crypto';
import { PASSWORD, type Registered } from './auth.js';

// Calls on a server running in another process (see process.ts), over its HTTP API.

export interface ApiResponse {
  status: number;
  // Tests assert on arbitrary payloads.
  body: any;
}

/** A JSON request to /api/v1 of a running server. */
export async function api(baseUrl: string, method: string, path: string, token?: string, body?: unknown): Promise<ApiResponse> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function registered(response: ApiResponse, email: string, password: string): Registered {
  const { user, accessToken, refreshToken } = response.body;
  return { id: user.id, email, password, accessToken, refreshToken };
}

export async function registerOn(baseUrl: string, displayName: string): Promise<Registered> {
  const email = `${displayName.toLowerCase()}-${randomUUID()}@example.com`;
  const response = await api(baseUrl, 'POST', '/auth/register', undefined, { email, password: PASSWORD, displayName });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${JSON.stringify(response.body)}`);
  return registered(response, email, PASSWORD);
}

export async function loginOn(baseUrl: string, email: string, password: string): Promise<Registered> {
  const response = await api(baseUrl, 'POST', '/auth/login', undefined, { email, password });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${JSON.stringify(response.body)}`);
  return registered(response, email, password);
}

