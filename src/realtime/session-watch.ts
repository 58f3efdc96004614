import { Injectable } from '@nestjs/common';

/**
 * The sessions this instance holds sockets and SSE streams open for, so that they can be checked
 * again now and then: a `session.revoked` event lost in a Redis outage, or announced while a
 * stream was still opening, must not leave a connection alive until its token expires.
 */
@Injectable()
export class SessionWatch {
  private readonly open = new Map<string, number>();
  private readonly listeners: ((sessionId: string) => void)[] = [];

  /** Counts one more connection of the session; call the returned function when it closes. */
  watch(sessionId: string): () => void {
    this.open.set(sessionId, (this.open.get(sessionId) ?? 0) + 1);
    for (const listener of this.listeners) listener(sessionId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(sessionId) ?? 1) - 1;
      if (left > 0) this.open.set(sessionId, left);
      else this.open.delete(sessionId);
    };
  }

  /**
   * Called for every new connection: the session was checked when the request or handshake was
   * authenticated, but an end announced between then and now reached no one.
   */
  onWatch(listener: (sessionId: string) => void): void {
    this.listeners.push(listener);
  }

  get sessionIds(): string[] {
    return [...this.open.keys()];
  }
}
