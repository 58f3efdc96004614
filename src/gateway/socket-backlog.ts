import { Logger } from '@nestjs/common';
import type { Server, Socket } from 'socket.io';
import { Encoder, type Packet } from 'socket.io-parser';

type Connection = Socket['conn'];

/** What engine.io keeps of a connection and its typings do not show. */
interface ConnectionInternals {
  /** Packets waiting for the transport to become writable again. */
  writeBuffer: { data?: unknown }[];
  /** The websocket transport's `ws` socket; the polling transport has none. */
  transport: { socket?: { bufferedAmount?: unknown; terminate?: () => void } };
}

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  return ArrayBuffer.isView(data) || data instanceof ArrayBuffer ? data.byteLength : 0;
}

/**
 * Bytes accepted for a client and not yet handed to the kernel: what `ws` still buffers (a
 * websocket whose peer stopped reading) plus the packets engine.io holds back meanwhile (and
 * between polls, for long-polling). Nothing else bounds them: they grow with every emit.
 */
export function outgoingBacklog(conn: Connection): number {
  const { writeBuffer, transport } = conn as unknown as ConnectionInternals;
  const buffered = transport.socket?.bufferedAmount;
  let bytes = typeof buffered === 'number' ? buffered : 0;
  for (const packet of writeBuffer) bytes += byteLength(packet.data);
  return bytes;
}

/**
 * Closes a connection at once, dropping what waits for it. A plain disconnect would wait for the
 * backlog to drain, which a client that does not read never lets happen, and `ws`'s closing
 * handshake would keep its buffer for another 30 s.
 */
function cutOff(conn: Connection): void {
  const { transport } = conn as unknown as ConnectionInternals;
  conn.close(true);
  transport.socket?.terminate?.();
}

/**
 * Socket.IO's packet encoder, counting what it encodes. Every packet this instance writes — a
 * broadcast once for all its recipients, an acknowledgement or a socket's own emit — is encoded
 * once, so no connection is given more than this has counted: BacklogGuard follows it instead of
 * keeping a listener and a counter on every connection. Part of the server's `parser` (see ChatIoAdapter).
 */
export class CountingEncoder extends Encoder {
  /** Told the size of every packet encoded (set by the BacklogGuard that follows this encoder). */
  encoded: ((bytes: number) => void) | undefined;

  override encode(packet: Packet): unknown[] {
    const parts = super.encode(packet) as unknown[];
    if (this.encoded) {
      let bytes = 0;
      for (const part of parts) bytes += byteLength(part);
      this.encoded(bytes);
    }
    return parts;
  }
}

/** How often every connection is checked even while nothing is encoded (a backlog left just past the cap). */
const SWEEP_INTERVAL_MS = 1000;

/** The engine.io connections of a Socket.IO server (typed protected by engine.io). */
function connectionsOf(server: Server): Record<string, Connection> {
  return (server.engine as unknown as { clients: Record<string, Connection> }).clients;
}

/**
 * Cuts off every connection of a Socket.IO server (on this instance) whose outgoing backlog passes
 * `maxBytes`: a client that stops reading while its conversations stay busy would otherwise grow
 * the server's memory without limit. A backlog grows only by what the server's encoder encodes (a
 * broadcast once for all its recipients), so the connections are checked each time a quarter of
 * `maxBytes` has been encoded: however fast the rooms, no backlog passes the cap by more than that
 * quarter and the turn that wrote it. Nothing is kept per connection. Every engine.io connection
 * is checked, not only the sockets of /chat: one that left the namespace, or never joined it, is
 * still answered (a refused connect, say) and would otherwise never be. A slow timer catches a
 * backlog left past the cap once the traffic stops.
 */
export class BacklogGuard {
  private readonly log = new Logger('BacklogGuard');
  /** Bytes encoded since the last sweep. */
  private sinceSweep = 0;
  private sweepSoon: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private encoder: CountingEncoder | undefined;

  constructor(
    private readonly server: Server,
    private readonly maxBytes: number,
  ) {}

  /** Follows what the server encodes; its parser's encoder must be a CountingEncoder. */
  start(): void {
    const encoder: unknown = this.server.encoder;
    if (!(encoder instanceof CountingEncoder)) throw new Error('The Socket.IO server must encode with CountingEncoder to cap backlogs');
    if (encoder.encoded) throw new Error('This Socket.IO server already has a backlog guard');
    const step = Math.max(1, Math.floor(this.maxBytes / 4));
    this.encoder = encoder;
    encoder.encoded = (bytes) => {
      this.sinceSweep += bytes;
      // After the turn that wrote them: the packets are in the connections' buffers by then, and no
      // connection is cut off in the middle of a broadcast.
      if (this.sinceSweep >= step) this.sweepSoon ??= setImmediate(() => this.sweep());
    };
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.encoder) this.encoder.encoded = undefined;
    this.encoder = undefined;
    clearInterval(this.timer);
    clearImmediate(this.sweepSoon);
    this.sweepSoon = undefined;
  }

  sweep(): void {
    clearImmediate(this.sweepSoon);
    this.sweepSoon = undefined;
    this.sinceSweep = 0;
    const connections = connectionsOf(this.server);
    for (const id in connections) {
      const conn = connections[id]!;
      const backlog = outgoingBacklog(conn);
      if (backlog <= this.maxBytes) continue;
      this.log.warn(`Disconnecting connection ${id}: ${backlog} bytes wait for a client that does not read them`);
      cutOff(conn);
    }
  }
}
