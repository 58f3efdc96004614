import { defaultLocks, type Locks } from './locks.js';
import { createClient, type RestClient } from './rest.js';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * Where the tokens live. For several tabs to share a sign-in, it must be storage they all read
 * (localStorageTokens): the refresh token is read inside the cross-tab lock, so a tab that waited
 * for another's refresh sees the rotated token instead of presenting the used one.
 */
export interface TokenStorage {
  get(): Tokens | undefined;
  set(tokens: Tokens | undefined): void;
  /**
   * The Web Storage every tab reads these tokens from, when there is one: it is then the source of
   * truth (a message from another tab only says to read it again) and, without Web Locks, where
   * the refresh lock's lease is kept.
   */
  readonly shared?: Storage;
}

export function memoryTokens(initial?: Tokens): TokenStorage {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** Tokens in `localStorage` under `key`: shared by every tab of the origin. */
export function localStorageTokens(key = 'agent-chat.tokens', storage: Storage = globalThis.localStorage): TokenStorage {
  return {
    shared: storage,
    get: () => {
      const raw = storage.getItem(key);
      return raw ? (JSON.parse(raw) as Tokens) : undefined;
    },
    set: (tokens) => (tokens ? storage.setItem(key, JSON.stringify(tokens)) : storage.removeItem(key)),
  };
}

/** The refresh token was refused (the session ended) or there was none: sign in again. */
export class SignedOutError extends Error {
  constructor(message = 'signed out') {
    super(message);
    this.name = 'SignedOutError';
  }
}

/** What other tabs are told over the BroadcastChannel: the tokens now in use (null: signed out), and since when. */
interface TokensMessage {
  type: 'tokens';
  tokens: Tokens | null;
  /** `Date.now()` when they were stored: a message may arrive after a newer one. */
  issuedAt: number;
}

export interface TokenSessionOptions {
  baseUrl: string;
  /** Default: this tab's memory. */
  storage?: TokenStorage;
  /** Default: `navigator.locks`, else a lease in the storage's `shared` Web Storage, else a lock of this session only. */
  locks?: Locks;
  /** BroadcastChannel on which tabs tell each other of new tokens; null for none. */
  channel?: string | null;
  fetch?: (request: Request) => Promise<Response>;
}

const LOCK = 'agent-chat.refresh';

/**
 * The tokens of one sign-in and their refresh. Refresh tokens are single use and presenting a
 * used one ends the session, so refreshes are single-flight: concurrent callers in a tab share
 * one, and tabs take turns under a Web Lock, each re-reading the tokens once it holds it.
 */
export class TokenSession {
  private readonly storage: TokenStorage;
  private readonly locks: Locks;
  private readonly channel: BroadcastChannel | undefined;
  private readonly auth: RestClient;
  private readonly listeners = new Set<(tokens: Tokens | undefined) => void>();
  private inFlight: Promise<string> | undefined;
  /** When the tokens held were stored, here or in the tab that told of them. */
  private issuedAt = 0;

  constructor(options: TokenSessionOptions) {
    this.storage = options.storage ?? memoryTokens();
    this.locks = options.locks ?? defaultLocks(this.storage.shared);
    this.auth = createClient({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
    const name = options.channel === undefined ? 'agent-chat.tokens' : options.channel;
    if (name !== null && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(name);
      this.channel.addEventListener('message', (event: MessageEvent<TokensMessage>) => this.received(event.data));
      // In Node an open channel would keep the process alive; a browser tab has no such notion.
      (this.channel as { unref?: () => void }).unref?.();
    }
  }

  /** The access token to send now. */
  readonly getToken = (): string | undefined => this.storage.get()?.accessToken;

  get tokens(): Tokens | undefined {
    return this.storage.get();
  }

  /** Keeps the tokens a sign-in (register, login) answered, and tells the other tabs. */
  signIn(tokens: Tokens): void {
    this.store({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  }

  signOut(): void {
    this.store(undefined);
  }

  /** Called with the tokens whenever they change, here or in another tab. */
  onChange(listener: (tokens: Tokens | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A fresh access token. With `staleToken` (the one a request was refused with), a token that
   * has changed since is answered without a refresh: another caller or tab already did it.
   */
  readonly refresh = (staleToken?: string): Promise<string> => {
    this.inFlight ??= this.locks.request(LOCK, () => this.refreshHoldingLock(staleToken)).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  };

  private async refreshHoldingLock(staleToken: string | undefined): Promise<string> {
    const current = this.storage.get();
    if (!current) throw new SignedOutError();
    if (staleToken !== undefined && current.accessToken !== staleToken) return current.accessToken;
    const { data, response } = await this.auth.POST('/api/v1/auth/refresh', { body: { refreshToken: current.refreshToken } });
    if (response.status === 401) {
      this.signOut();
      throw new SignedOutError('the refresh token was refused');
    }
    if (!data) throw new Error(`token refresh failed: ${response.status}`);
    this.signIn(data);
    return data.accessToken;
  }

  private store(tokens: Tokens | undefined): void {
    this.issuedAt = Math.max(Date.now(), this.issuedAt + 1);
    this.storage.set(tokens);
    this.channel?.postMessage({ type: 'tokens', tokens: tokens ?? null, issuedAt: this.issuedAt } satisfies TokensMessage);
    this.notify(tokens);
  }

  /**
   * Another tab's tokens. Shared storage already holds the newest ones (a late message must not
   * bring back a used refresh token): it is only read again. A tab's own storage takes newer ones only.
   */
  private received(message: TokensMessage): void {
    if (message?.type !== 'tokens') return;
    if (this.storage.shared) return this.notify(this.storage.get());
    if (!(message.issuedAt > this.issuedAt)) return;
    this.issuedAt = message.issuedAt;
    const tokens = message.tokens ?? undefined;
    this.storage.set(tokens);
    this.notify(tokens);
  }

  private notify(tokens: Tokens | undefined): void {
    for (const listener of this.listeners) listener(tokens);
  }

  close(): void {
    this.channel?.close();
    this.listeners.clear();
  }
}
