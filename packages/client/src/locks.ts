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

export interface StorageLocksOptions {
  /** How long a lease lasts unless renewed: a tab that died holding it blocks the others at most this long. */
  leaseMs?: number;
  /** How long a written lease must stay ours before it counts as taken; retries wait about as long again, with jitter. */
  settleMs?: number;
}

interface Lease {
  owner: string;
  expires: number;
}

/**
 * Exclusive locks for the tabs sharing `storage` (localStorage), where Web Locks are missing:
 * insecure contexts such as http://192.168.1.20. A lease `{owner, expires}` under `<name>.lease`
 * is written when free or expired, and taken if it still names its writer `settleMs` later (two
 * tabs writing at once see one winner); the holder renews it while its callback runs and removes
 * it after. Web Storage has no compare-and-set, so this is best effort, but it keeps tabs from
 * refreshing at the same moment, which is what matters. Requests within one tab queue first.
 */
export function createStorageLocks(storage: Storage, { leaseMs = 10_000, settleMs = 30 }: StorageLocksOptions = {}): Locks {
  const local = createMemoryLocks();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      return local.request(name, async () => {
        const key = `${name}.lease`;
        const owner = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
        const mine = () => readLease(storage, key)?.owner === owner;
        const write = () => storage.setItem(key, JSON.stringify({ owner, expires: Date.now() + leaseMs } satisfies Lease));
        for (;;) {
          const lease = readLease(storage, key);
          if (!lease || lease.expires <= Date.now()) {
            write();
            await delay(settleMs);
            if (mine()) break;
          }
          await delay(settleMs * (1 + 2 * Math.random()));
        }
        const renew = setInterval(() => {
          if (mine()) write();
        }, leaseMs / 3);
        try {
          return await callback();
        } finally {
          clearInterval(renew);
          if (mine()) storage.removeItem(key);
        }
      });
    },
  };
}

function readLease(storage: Storage, key: string): Lease | undefined {
  try {
    const lease = JSON.parse(storage.getItem(key) ?? 'null') as Lease | null;
    return lease && typeof lease.expires === 'number' ? lease : undefined;
  } catch {
    return undefined;
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The browser's Web Locks (shared by every tab of the origin) when there are any; else a lease in
 * `shared` storage when the tokens live there (other tabs read them), else a lock of this realm.
 */
export function defaultLocks(shared?: Storage): Locks {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  return locks ?? (shared ? createStorageLocks(shared) : createMemoryLocks());
}
