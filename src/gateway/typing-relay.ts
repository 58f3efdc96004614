/** Typing ends by itself this long after the last typing:start. */
export const TYPING_TTL_MS = 5000;
/** The others hear of one user's typing in one conversation at most this often. */
export const TYPING_RELAY_INTERVAL_MS = 2000;

interface Typist {
  /** What the user is doing. */
  typing: boolean;
  /** What the others were last told, and when. */
  shown: boolean;
  shownAt: number;
  expiry?: NodeJS.Timeout;
  flush?: NodeJS.Timeout;
}

/**
 * Typing state per user and conversation, and what the others are told of it. A change is relayed
 * at once if the last relay is TYPING_RELAY_INTERVAL_MS old, otherwise when the interval ends —
 * if it still stands then: a flood of start/stop becomes at most one relay per interval, and a
 * stop is never lost, only delayed by up to the interval.
 */
export class TypingRelay {
  private readonly typists = new Map<string, Typist>();

  constructor(private readonly relay: (conversationId: string, userId: string, isTyping: boolean) => void) {}

  start(conversationId: string, userId: string): void {
    this.set(conversationId, userId, true);
  }

  stop(conversationId: string, userId: string): void {
    this.set(conversationId, userId, false);
  }

  clear(): void {
    for (const typist of this.typists.values()) {
      clearTimeout(typist.expiry);
      clearTimeout(typist.flush);
    }
    this.typists.clear();
  }

  private set(conversationId: string, userId: string, typing: boolean): void {
    const key = `${conversationId}:${userId}`;
    let typist = this.typists.get(key);
    if (!typist) {
      if (!typing) return;
      typist = { typing, shown: false, shownAt: -Infinity };
      this.typists.set(key, typist);
    }
    typist.typing = typing;
    clearTimeout(typist.expiry);
    typist.expiry = typing ? setTimeout(() => this.set(conversationId, userId, false), TYPING_TTL_MS) : undefined;
    this.flush(conversationId, userId, typist);
  }

  private flush(conversationId: string, userId: string, typist: Typist): void {
    // A pending flush relays whatever stands when it fires.
    if (typist.flush) return;
    let wait = typist.shownAt + TYPING_RELAY_INTERVAL_MS - Date.now();
    if (wait <= 0 && typist.typing !== typist.shown) {
      typist.shown = typist.typing;
      typist.shownAt = Date.now();
      this.relay(conversationId, userId, typist.typing);
      wait = TYPING_RELAY_INTERVAL_MS;
    }
    // Typing and shown as such: the expiry timer keeps the entry until it changes.
    if (typist.typing && typist.shown) return;
    // Stopped, told, and the interval over: nothing left to remember.
    if (!typist.typing && !typist.shown && wait <= 0) {
      this.typists.delete(`${conversationId}:${userId}`);
      return;
    }
    typist.flush = setTimeout(() => {
      typist.flush = undefined;
      this.flush(conversationId, userId, typist);
    }, wait);
  }
}
