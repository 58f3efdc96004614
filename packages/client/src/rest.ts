import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './generated/rest.js';

export type { components, paths };
/** A typed REST client: `client.GET('/api/v1/conversations', …)`, paths and bodies from the OpenAPI document. */
export type RestClient = Client<paths>;
/** A schema of the OpenAPI document, by name: `Schema<'MessageDto'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

export interface AuthHooks {
  /** The access token to send; none for public routes or when signed out. */
  getToken?: () => string | undefined | Promise<string | undefined>;
  /**
   * Called with the token a request was refused with (401); resolves the token to retry with.
   * TokenSession.refresh is single-flight, so concurrent 401s cost one refresh.
   */
  refresh?: (staleToken: string) => Promise<string | undefined>;
}

export interface RestOptions extends AuthHooks {
  /** The server's origin, e.g. https://chat.example.com (the paths carry /api/v1). */
  baseUrl: string;
  fetch?: (request: Request) => Promise<Response>;
}

export function createClient(options: RestOptions): RestClient {
  return createFetchClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch: authorizedFetch(options) });
}

/** Sends the access token; on a 401 for it, refreshes once and sends the request again. */
function authorizedFetch({ getToken, refresh, fetch: send = (request) => globalThis.fetch(request) }: RestOptions) {
  return async (request: Request): Promise<Response> => {
    const token = await getToken?.();
    if (!token) return send(request);
    const retry = refresh ? request.clone() : undefined;
    request.headers.set('authorization', `Bearer ${token}`);
    const response = await send(request);
    if (response.status !== 401 || !retry || !refresh) return response;
    // A refresh that fails (the session ended) leaves the original answer to the caller.
    const fresh = await refresh(token).catch(() => undefined);
    if (!fresh || fresh === token) return response;
    retry.headers.set('authorization', `Bearer ${fresh}`);
    return send(retry);
  };
}
