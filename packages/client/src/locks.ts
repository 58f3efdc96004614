/** The part of the Web Locks API (`navigator.locks`) the token refresh needs. */
export interface Locks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * Exclusive locks within one JavaScript realm, granted in request order as Web Locks are: the
 * fallback where `navigator.locks` is missing (Node 20), and a stand-in for it in tests.
 */
export function createMemoryLocks(): Locks {
  const queues = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = queues.get(name) ?? Promise.resolve();
      const held = (async () => {
        await previous;
        return callback();
      })();
      // The next holder waits for this one to end, however it ends.
      const released = held.then(
        () => undefined,
        () => undefined,
      );
      queues.set(name, released);
      void released.finally(() => {
        if (queues.get(name) === released) queues.delete(name);
      });
      return held;
    },
  };
}

/** The browser's Web Locks (shared by every tab of the origin) when there are any. */
export function defaultLocks(): Locks {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  return locks ?? createMemoryLocks();
}
