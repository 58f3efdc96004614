import { type ChatSocket, connectChat, createClient, localStorageTokens, type RestClient, type Schema, TokenSession } from '@agent-chat/client';

export type User = Schema<'UserDto'>;

/**
 * The API's origin: VITE_API_URL at build time, else a server on this machine's default port. A
 * built page takes it from nothing else: a link could otherwise point it at any server, which
 * would then receive the password and tokens. Only the dev server accepts `?api=`, for this visit.
 */
function apiUrl(): string {
  const fromQuery = import.meta.env.DEV ? new URLSearchParams(location.search).get('api') : null;
  return new URL(fromQuery || import.meta.env.VITE_API_URL || 'http://localhost:3000').origin;
}

export const API_URL = apiUrl();

/**
 * Tokens in localStorage, under a key (and channel) of the API's origin: every tab of this origin
 * shares the sign-in and its refreshes, and no API is ever sent another one's tokens.
 */
export const session = new TokenSession({
  baseUrl: API_URL,
  storage: localStorageTokens(`agent-chat.tokens ${API_URL}`),
  channel: `agent-chat.tokens ${API_URL}`,
});

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
