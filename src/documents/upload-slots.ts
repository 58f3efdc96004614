import { RateLimitedError } from '../common/errors.js';

/**
 * How many uploads one user may have under way at once (on this instance). Each holds a
 * connection, a spooled file of up to the document limit and, at its end, a transaction: without a
 * bound, one account could fill the disk or queue the database behind its own uploads.
 */
export class UploadSlots {
  private readonly inUse = new Map<string, number>();

  constructor(private readonly perUser: number) {}

  /** Takes a slot, or refuses with a 429; the returned function gives it back (once). */
  acquire(userId: string): () => void {
    const used = this.inUse.get(userId) ?? 0;
    if (used >= this.perUser) {
      throw new RateLimitedError(`At most ${this.perUser} uploads at once: wait for one to finish`, 1);
    }
    this.inUse.set(userId, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inUse.get(userId) ?? 1) - 1;
      if (left) this.inUse.set(userId, left);
      else this.inUse.delete(userId);
    };
  }
}
