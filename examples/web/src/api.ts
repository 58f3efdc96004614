import { type ChatSocket, connectChat, createClient, localStorageTokens, type RestClient, type Schema, TokenSession } from '@agent-chat/client';

export type User = Schema<'UserDto'>;

/**
 * The API's origin: `?api=` (remembered for the next visit), else VITE_API_URL at build time,
 * else a server on this machine's default port.
 */
function apiUrl(): string {
  const fromQuery = new URLSearchParams(location.search).get('api');
  if (fromQuery) localStorage.setItem('agent-chat.api', fromQuery);
  return fromQuery ?? localStorage.getItem('agent-chat.api') ?? import.meta.env.VITE_API_URL ?? 'http://localhost:3000';
}

export const API_URL = apiUrl();

/** Tokens in localStorage: every tab of this origin shares the sign-in and its refreshes. */
export const session = new TokenSession({ baseUrl: API_URL, storage: localStorageTokens() });

/** REST with the session's token; a 401 refreshes it once and retries. */
export const rest: RestClient = createClient({ baseUrl: API_URL, getToken: session.getToken, refresh: session.refresh });

export function openSocket(): ChatSocket {
  return connectChat({ baseUrl: API_URL, getToken: session.getToken, refresh: session.refresh });
}

/** The message of an error answer (`{statusCode, error, message, details?}`), or of anything else. */
export function describeError(error: unknown, status?: number): string {
  if (error && typeof error === 'object' && 'message' in error) {
    const { message } = error as { message: unknown };
    return Array.isArray(message) ? message.join('; ') : String(message);
  }
  return status ? `request failed (${status})` : String(error);
}
