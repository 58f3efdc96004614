/** Presence of a conversation is announced at most this often. */
export const PRESENCE_COALESCE_MS = 100;

/**
 * Announces who is online, at most every PRESENCE_COALESCE_MS per conversation: a burst of joins
 * (a reconnect storm, a busy room) becomes one announcement with the final list, not one per socket.
 */
export class PresenceAnnouncer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly online: (conversationId: string) => Promise<string[]>,
    private readonly announce: (conversationId: string, online: string[]) => void,
  ) {}

  changed(conversationId: string): void {
    if (this.timers.has(conversationId)) return;
    this.timers.set(
      conversationId,
      setTimeout(() => {
        this.timers.delete(conversationId);
        void (async () => this.announce(conversationId, await this.online(conversationId)))();
      }, PRESENCE_COALESCE_MS),
    );
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
  }
}
