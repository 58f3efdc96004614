import type { MessageDto } from '@agent-chat/client';

let seq = 0;

/** A message as the server answers it, with what a test cares about overridden. */
export function message(overrides: Partial<MessageDto> = {}): MessageDto {
  seq++;
  return {
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    version: seq,
    role: 'user',
    authorId: 'u1',
    content: `message ${seq}`,
    status: 'complete',
    clientMessageId: null,
    runId: null,
    metadata: {},
    createdAt: new Date(0).toISOString(),
    editedAt: null,
    deletedAt: null,
    ...overrides,
  } as MessageDto;
}

/** An emitted client event and how to answer it (its acknowledgement). */
export interface Emitted {
  event: string;
  payload: unknown;
  answer(ack: unknown): void;
}

/**
 * The part of a Socket.IO client socket ConversationSync uses, driven by the test: `answer`
 * decides the acknowledgement of each emitted event (undefined: none ever comes).
 */
export class FakeSocket {
  connected = true;
  readonly emitted: Emitted[] = [];
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();

  constructor(private readonly answer: (emitted: Emitted, nth: number) => unknown = () => undefined) {}

  on(event: string, handler: (payload: unknown) => void): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(handler);
  }

  off(event: string, handler: (payload: unknown) => void): void {
    this.handlers.get(event)?.delete(handler);
  }

  /** The server sends `event`. */
  receive(event: string, payload: unknown): void {
    for (const handler of this.handlers.get(event) ?? []) handler(payload);
  }

  timeout(ms: number) {
    return {
      emitWithAck: (event: string, payload: unknown) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('operation has timed out')), ms);
          const emitted: Emitted = { event, payload, answer: (ack) => (clearTimeout(timer), resolve(ack)) };
          this.emitted.push(emitted);
          const ack = this.answer(emitted, this.emitted.length);
          if (ack !== undefined) queueMicrotask(() => emitted.answer(ack));
        }),
    };
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until `condition` holds, at most `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(5);
  }
}

/** The Web Storage API (the tests' tsconfig has no DOM types). */
export interface WebStorage {
  readonly length: number;
  clear(): void;
  getItem(key: string): string | null;
  key(index: number): string | null;
  removeItem(key: string): void;
  setItem(key: string, value: string): void;
}

/** What `localStorage` is to the tabs of one origin, for tabs (TokenSessions) of one test. */
export function memoryStorage(): WebStorage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, String(value)),
  };
}
