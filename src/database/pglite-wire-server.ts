import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
const PROTOCOL_3 = 196_608;

/** Frontend messages that end a unit of work: the backend answers each with ReadyForQuery. */
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
const PASSWORD_MESSAGE = 0x70; // 'p'

/** Far above any real startup or password message; a bigger one is an attack on our buffer. */
const MAX_STARTUP_BYTES = 10_000;

/** AuthenticationCleartextPassword: the client answers with a PasswordMessage. */
const ASK_FOR_PASSWORD = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

/** A FATAL ErrorResponse with the SQLSTATE a real server uses for a wrong password. */
function authenticationFailed(): Buffer {
  const fields = Buffer.from('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "postgres"\0\0', 'utf8');
  const header = Buffer.alloc(5);
  header[0] = 0x45; // 'E'
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

const digest = (value: Buffer | string) => createHash('sha256').update(value).digest();

/**
 * Serves one PGlite database to many PostgreSQL wire-protocol clients (the `pg` pool).
 *
 * PGlite has a single session, so clients take turns at the level of whole units of work — a
 * simple Query, or an extended-protocol batch up to its Sync — never single messages, which would
 * let one client's Bind land between another's Parse and Execute. A client whose unit leaves a
 * transaction open keeps the session until it commits or rolls back; one that disconnects
 * mid-transaction is rolled back. (pglite-socket's multiplexer switches clients per message and
 * loses unnamed portals under concurrency; this server exists to fix exactly that.)
 *
 * With a password, every connection must send it (cleartext is fine: the server listens only on a
 * private unix socket or loopback) before PGlite sees its startup packet — PGlite itself trusts
 * whoever connects, as a superuser.
 */
export class PGliteWireServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  /** The connection whose transaction is open, if any; others wait for it. */
  private owner: Connection | undefined;
  private readonly waiting: Connection[] = [];
  private running = false;

  private readonly passwordDigest: Buffer | undefined;

  constructor(
    private readonly db: PGlite,
    password?: string,
  ) {
    this.passwordDigest = password === undefined ? undefined : digest(password);
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(target: { path: string } | { host: string; port: number }): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'string' ? address : `${address!.address}:${address!.port}`);
      };
      if ('path' in target) this.server.listen(target.path, done);
      else this.server.listen(target.port, target.host, done);
    });
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Wait for a unit in flight, so the database is closed between statements.
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection: Connection = { socket, buffer: Buffer.alloc(0), started: false, units: [], closed: false };
    this.connections.add(connection);
    socket.on('data', (chunk: Buffer) => {
      if (connection.refused) return;
      connection.buffer = connection.buffer.length ? Buffer.concat([connection.buffer, chunk]) : chunk;
      this.parse(connection);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connection.closed = true;
      this.connections.delete(connection);
      void this.pump();
    });
  }

  /** Splits the buffer into units of work and queues them. */
  private parse(connection: Connection): void {
    let offset = 0;
    let unitStart = 0;
    const { buffer } = connection;
    while (true) {
      if (!connection.started) {
        if (buffer.length - offset < 8) break;
        const length = buffer.readInt32BE(offset);
        if (length < 8 || length > MAX_STARTUP_BYTES) {
          connection.socket.destroy();
          return;
        }
        if (buffer.length - offset < length) break;
        const code = buffer.readInt32BE(offset + 4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          connection.socket.write('N');
          offset += length;
          unitStart = offset;
          continue;
        }
        if (code === CANCEL_REQUEST || code !== PROTOCOL_3) {
          connection.socket.destroy();
          return;
        }
        offset += length;
        connection.started = true;
        const startup = buffer.subarray(unitStart, offset);
        unitStart = offset;
        if (this.passwordDigest) {
          connection.pendingStartup = Buffer.from(startup);
          connection.socket.write(ASK_FOR_PASSWORD);
        } else {
          this.enqueue(connection, startup);
        }
        continue;
      }
      if (buffer.length - offset < 5) break;
      const type = buffer[offset]!;
      const length = 1 + buffer.readInt32BE(offset + 1);
      if (length < 5) {
        connection.socket.destroy();
        return;
      }
      if (connection.pendingStartup && (type !== PASSWORD_MESSAGE || length > MAX_STARTUP_BYTES)) {
        this.refuse(connection);
        return;
      }
      if (buffer.length - offset < length) break;
      offset += length;
      if (connection.pendingStartup) {
        // The password ends with a NUL terminator.
        if (!this.passwordMatches(buffer.subarray(offset - length + 5, offset - 1))) {
          this.refuse(connection);
          return;
        }
        this.enqueue(connection, connection.pendingStartup);
        connection.pendingStartup = undefined;
        unitStart = offset;
        continue;
      }
      if (type === TERMINATE) {
        connection.socket.end();
        break;
      }
      if (type === SYNC || type === QUERY) {
        this.enqueue(connection, buffer.subarray(unitStart, offset));
        unitStart = offset;
      }
    }
    connection.buffer = Buffer.from(buffer.subarray(unitStart));
  }

  private passwordMatches(supplied: Buffer): boolean {
    return timingSafeEqual(digest(supplied), this.passwordDigest!);
  }

  private refuse(connection: Connection): void {
    connection.refused = true;
    connection.pendingStartup = undefined;
    connection.buffer = Buffer.alloc(0);
    connection.socket.end(authenticationFailed());
  }

  private enqueue(connection: Connection, unit: Buffer): void {
    connection.units.push(Buffer.from(unit));
    if (connection !== this.owner && !this.waiting.includes(connection)) this.waiting.push(connection);
    void this.pump();
  }

  /**
   * Runs queued units one at a time: the owner of an open transaction first and exclusively,
   * otherwise connections in turn (round robin), so none starves the others.
   */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (true) {
        if (this.owner?.closed) {
          // Its client vanished mid-transaction: nobody will ever commit it.
          await this.db.exec('ROLLBACK').catch(() => undefined);
          this.owner = undefined;
        }
        let next = this.owner;
        if (!next) {
          next = this.waiting.shift();
          while (next && (next.closed || next.units.length === 0)) next = this.waiting.shift();
        }
        if (!next || next.units.length === 0) break;
        const connection = next;
        const unit = connection.units.shift()!;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(unit, {
              // The chunk is a view into PGlite's WebAssembly memory, reused for the next chunk:
              // a socket under backpressure queues what it is given, so it must get a copy.
              onRawData: (data) => {
                if (!connection.closed) connection.socket.write(Buffer.from(data));
              },
            }),
          );
        } catch {
          connection.socket.destroy();
        }
        this.owner = this.db.isInTransaction() ? connection : undefined;
        if (!this.owner && connection.units.length > 0 && !this.waiting.includes(connection)) this.waiting.push(connection);
      }
    } finally {
      this.running = false;
    }
  }
}

interface Connection {
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  units: Buffer[];
  closed: boolean;
  /** Held back from PGlite until the client has sent the right password. */
  pendingStartup?: Buffer | undefined;
  /** Failed authentication: nothing more it sends is read. */
  refused?: boolean;
}
