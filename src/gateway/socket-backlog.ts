import { Logger } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';

/** How often this instance's sockets are checked for a backlog over the cap. */
const SWEEP_INTERVAL_MS = 250;

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

/** Bytes a connection has been given since its backlog was last checked (see BacklogGuard). */
const SINCE_CHECK = Symbol('bytesSinceBacklogCheck');
type CountedConnection = Connection & { [SINCE_CHECK]?: number };

/**
 * Disconnects the sockets of a namespace (on this instance) whose outgoing backlog passes
 * `maxBytes`: a client that stops reading while its conversations stay busy would otherwise grow
 * the server's memory without limit. Checked four times a second, and also as soon as a connection
 * has been given a quarter of `maxBytes` since its last check — a busy room can send megabytes
 * between two sweeps. (One listener for every connection, and a counter on it: idle sockets cost
 * nothing more.)
 */
export class BacklogGuard {
  private readonly log = new Logger('BacklogGuard');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly namespace: Namespace,
    private readonly maxBytes: number,
  ) {
    const step = Math.max(1, Math.floor(maxBytes / 4));
    const check = (conn: Connection): void => this.check(conn);
    this.counted = function (this: CountedConnection, packet: { data?: unknown }): void {
      const bytes = byteLength(packet.data);
      if (!bytes) return;
      const since = (this[SINCE_CHECK] ?? 0) + bytes;
      this[SINCE_CHECK] = since < step ? since : 0;
      if (since >= step) check(this);
    };
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Counts what is given to a newly connected socket's connection (checked as it grows, see above). */
  watch(socket: Socket): void {
    socket.conn.on('packetCreate', this.counted);
  }

  /** A packet created for a connection (`this`): counted, and the backlog checked every quarter of the cap. */
  private readonly counted: (this: CountedConnection, packet: { data?: unknown }) => void;

  /** Cuts off a connection whose backlog passes the cap (every socket on it goes with it). */
  private check(conn: Connection): void {
    const backlog = outgoingBacklog(conn);
    if (backlog <= this.maxBytes) return;
    this.log.warn(`Disconnecting a connection: ${backlog} bytes wait for a client that does not read them`);
    cutOff(conn);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sweep(): void {
    for (const socket of this.namespace.sockets.values()) {
      const backlog = outgoingBacklog(socket.conn);
      if (backlog <= this.maxBytes) continue;
      this.log.warn(`Disconnecting socket ${socket.id}: ${backlog} bytes wait for a client that does not read them`);
      socket.disconnect(true);
      cutOff(socket.conn);
    }
  }
}
