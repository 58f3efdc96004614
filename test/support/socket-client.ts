import { io, type Socket } from 'socket.io-client';
import { expectSteady } from './absence.js';

export interface Received {
  event: string;
  // Tests assert on arbitrary payloads.
  payload: any;
}

/** A socket.io-client socket that records every event it receives, for assertions. */
export class RecordingClient {
  readonly received: Received[] = [];

  constructor(
    readonly socket: Socket,
    private readonly ackTimeoutMs = 10_000,
  ) {
    socket.onAny((event: string, payload: unknown) => this.received.push({ event, payload }));
  }

  emit(event: string, payload?: unknown): Promise<any> {
    return this.socket.timeout(this.ackTimeoutMs).emitWithAck(event, payload);
  }

  of(event: string): any[] {
    return this.received.filter((r) => r.event === event).map((r) => r.payload);
  }

  async waitFor(event: string, predicate: (payload: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
    const started = Date.now();
    for (;;) {
      const found = this.of(event).find(predicate);
      if (found) return found;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`no ${event} within ${timeoutMs} ms (got ${this.received.map((r) => r.event).join(', ')})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Proves a negative (see expectSteady): fails if an event matching `predicate` arrives within `withinMs`. */
export async function expectNoEvent(client: RecordingClient, event: string, predicate: (payload: any) => boolean, withinMs: number): Promise<void> {
  const matching = () => client.of(event).filter(predicate);
  const before = matching().length;
  await expectSteady(() => matching().length === before, withinMs, () => `unexpected ${event} within ${withinMs} ms: ${JSON.stringify(matching().at(-1))}`);
}

/** A connected websocket-only client of /chat that does not reconnect by itself. */
export async function connectClient(baseUrl: string, token: string, ackTimeoutMs?: number): Promise<RecordingClient> {
  const socket = io(`${baseUrl}/chat`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
  } catch (error) {
    socket.close();
    throw error;
  }
  return new RecordingClient(socket, ackTimeoutMs);
}
