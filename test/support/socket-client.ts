import { io, type Socket } from 'socket.io-client';

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

/**
 * Proves a negative: fails if an event matching `predicate` arrives within `withinMs`. A bounded
 * wait by nature — nothing can be awaited for an event that must not come — so keep it short and
 * call it only after something that would have caused the event has been seen to take effect.
 */
export async function expectNoEvent(client: RecordingClient, event: string, predicate: (payload: any) => boolean, withinMs: number): Promise<void> {
  const before = client.of(event).filter(predicate).length;
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(10, Math.max(1, deadline - Date.now()))));
    const now = client.of(event).filter(predicate);
    if (now.length > before) throw new Error(`unexpected ${event} within ${withinMs} ms: ${JSON.stringify(now.at(-1))}`);
  }
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
