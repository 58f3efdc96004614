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

/**
 * Disconnects the sockets of a namespace (on this instance) whose outgoing backlog passes
 * `maxBytes`, checked four times a second: a client that stops reading while its conversations stay busy
 * would otherwise grow the server's memory without limit.
 */
export class BacklogGuard {
  private readonly log = new Logger('BacklogGuard');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly namespace: Namespace,
    private readonly maxBytes: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
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
