import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { SecretMatcher } from '../common/crypto/secret-matcher.js';

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
const PROTOCOL_3 = 196_608;

/** Frontend messages that end a unit of work: the backend answers each with ReadyForQuery. */
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
const PASSWORD_MESSAGE = 0x70; // 'p'
/** Extended-protocol messages that name a prepared statement. */
const PARSE = 0x50; // 'P': name, …
const BIND = 0x42; // 'B': portal, statement, …
const DESCRIBE = 0x44; // 'D': 'S' statement | 'P' portal
const CLOSE = 0x43; // 'C': 'S' statement | 'P' portal
const STATEMENT = 0x53; // 'S' in Describe and Close

/** Far above any real startup or password message; a bigger one is an attack on our buffer. */
const MAX_STARTUP_BYTES = 10_000;
const DEFAULT_AUTHENTICATION_TIMEOUT_MS = 10_000;

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
 * Prepared statements are the session's, so each connection's are renamed apart (a Parse, Bind,
 * Describe or Close naming `s` names `c<n>/<k>` for connection n, k its k-th name: short, as
 * PostgreSQL cuts names at 63 bytes) and closed when it disconnects: two pooled connections may
 * each prepare `s`, as they would on a server. (SQL-level PREPARE, EXECUTE and DEALLOCATE are not
 * renamed; `pg` and TypeORM use the protocol messages.)
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

  private readonly password: SecretMatcher | undefined;
  private nextConnectionId = 0;
  /** Statements of connections gone, closed before the next unit runs. */
  private orphans: Buffer[] = [];

  constructor(
    private readonly db: PGlite,
    password?: string,
    private readonly authenticationTimeoutMs = DEFAULT_AUTHENTICATION_TIMEOUT_MS,
  ) {
    this.password = password === undefined ? undefined : new SecretMatcher(password);
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
    const connection: Connection = {
      socket,
      chunks: [],
      bytes: 0,
      needed: 8,
      started: false,
      units: [],
      closed: false,
      prefix: `c${++this.nextConnectionId}/`,
      statements: new Map(),
    };
    this.connections.add(connection);
    if (this.password) {
      // A client that never finishes authenticating does not keep its connection.
      connection.authTimer = setTimeout(() => socket.destroy(), this.authenticationTimeoutMs);
      connection.authTimer.unref();
    }
    socket.on('data', (chunk: Buffer) => {
      if (connection.refused) return;
      // Chunks are joined once a whole message is there, not on every chunk: a large message
      // arriving in many chunks is copied once, not once per chunk.
      connection.chunks.push(chunk);
      connection.bytes += chunk.length;
      if (connection.bytes < connection.needed) return;
      const buffer = connection.chunks.length === 1 ? connection.chunks[0]! : Buffer.concat(connection.chunks, connection.bytes);
      connection.chunks = [];
      connection.bytes = 0;
      this.parse(connection, buffer);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connection.closed = true;
      clearTimeout(connection.authTimer);
      this.connections.delete(connection);
      for (const name of connection.statements.values()) this.orphans.push(closeStatement(name));
      void this.pump();
    });
  }

  /**
   * Splits what a client sent into units of work and queues them; keeps an incomplete message
   * (and the unit it belongs to) for the next chunk, noting how many bytes it needs.
   */
  private parse(connection: Connection, buffer: Buffer): void {
    let offset = 0;
    let unitStart = 0;
    while (true) {
      const step = !connection.started
        ? this.readStartup(connection, buffer, offset)
        : connection.pendingStartup
          ? this.readPassword(connection, buffer, offset)
          : this.readMessage(connection, buffer, offset);
      if (step.kind === 'stop') return;
      if (step.kind === 'incomplete') {
        const rest = buffer.subarray(unitStart);
        connection.chunks = rest.length ? [rest] : [];
        connection.bytes = rest.length;
        connection.needed = offset - unitStart + step.needs;
        return;
      }
      offset += step.length;
      if (step.unit === 'ends') this.enqueue(connection, buffer.subarray(unitStart, offset));
      if (step.unit !== 'continues') unitStart = offset;
    }
  }

  /** The startup packet (after an optional SSL/GSSAPI request, declined). */
  private readStartup(connection: Connection, buffer: Buffer, offset: number): Step {
    if (buffer.length - offset < 8) return { kind: 'incomplete', needs: 8 };
    const length = buffer.readInt32BE(offset);
    if (length < 8 || length > MAX_STARTUP_BYTES) return this.drop(connection);
    if (buffer.length - offset < length) return { kind: 'incomplete', needs: length };
    const code = buffer.readInt32BE(offset + 4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      connection.socket.write('N');
      return { kind: 'read', length, unit: 'discarded' };
    }
    if (code === CANCEL_REQUEST || code !== PROTOCOL_3) return this.drop(connection);
    connection.started = true;
    if (!this.password) return { kind: 'read', length, unit: 'ends' };
    connection.pendingStartup = Buffer.from(buffer.subarray(offset, offset + length));
    connection.socket.write(ASK_FOR_PASSWORD);
    return { kind: 'read', length, unit: 'discarded' };
  }

  /** The PasswordMessage: only with the right password does PGlite see the startup packet. */
  private readPassword(connection: Connection, buffer: Buffer, offset: number): Step {
    if (buffer.length - offset < 5) return { kind: 'incomplete', needs: 5 };
    const length = 1 + buffer.readInt32BE(offset + 1);
    if (buffer[offset] !== PASSWORD_MESSAGE || length < 5 || length > MAX_STARTUP_BYTES) return this.refuse(connection);
    if (buffer.length - offset < length) return { kind: 'incomplete', needs: length };
    // The password ends with a NUL terminator.
    if (!this.password!.matches(buffer.subarray(offset + 5, offset + length - 1))) return this.refuse(connection);
    clearTimeout(connection.authTimer);
    this.enqueue(connection, connection.pendingStartup!);
    connection.pendingStartup = undefined;
    return { kind: 'read', length, unit: 'discarded' };
  }

  /** A regular message: a Sync or a simple Query ends a unit of work. */
  private readMessage(connection: Connection, buffer: Buffer, offset: number): Step {
    if (buffer.length - offset < 5) return { kind: 'incomplete', needs: 5 };
    const type = buffer[offset]!;
    const length = 1 + buffer.readInt32BE(offset + 1);
    if (length < 5) return this.drop(connection);
    if (buffer.length - offset < length) return { kind: 'incomplete', needs: length };
    if (type === TERMINATE) {
      connection.socket.end();
      return { kind: 'stop' };
    }
    return { kind: 'read', length, unit: type === SYNC || type === QUERY ? 'ends' : 'continues' };
  }

  private drop(connection: Connection): Step {
    connection.socket.destroy();
    return { kind: 'stop' };
  }

  private refuse(connection: Connection): Step {
    connection.refused = true;
    connection.pendingStartup = undefined;
    connection.socket.end(authenticationFailed());
    return { kind: 'stop' };
  }

  private enqueue(connection: Connection, unit: Buffer): void {
    // The first unit is the startup packet; every later one is messages.
    const copy = Buffer.from(unit);
    connection.units.push(connection.startupQueued ? renameStatements(copy, connection) : copy);
    connection.startupQueued = true;
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
        if (this.orphans.length && !this.owner) {
          // Closing a statement that does not exist is no error.
          const close = Buffer.concat([...this.orphans.splice(0), SYNC_MESSAGE]);
          await this.db.runExclusive(() => this.db.execProtocolRaw(close)).catch(() => undefined);
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

/** What reading one message did: consumed it (ending, continuing or outside a unit of work), needs more bytes, or ended the connection. */
type Step =
  | { kind: 'read'; length: number; unit: 'ends' | 'continues' | 'discarded' }
  | { kind: 'incomplete'; needs: number }
  | { kind: 'stop' };

interface Connection {
  socket: Socket;
  /** Put before the names of its prepared statements, which live in the shared session. */
  prefix: string;
  /** What each name it gave a prepared statement is called in the session; kept after a Close (closing twice is no error). */
  statements: Map<string, string>;
  startupQueued?: boolean;
  /** Received and not yet parsed: the rest of a unit of work, then chunks since. */
  chunks: Buffer[];
  bytes: number;
  /** Bytes the first incomplete message needs before parsing can go on. */
  needed: number;
  started: boolean;
  units: Buffer[];
  closed: boolean;
  /** Held back from PGlite until the client has sent the right password. */
  pendingStartup?: Buffer | undefined;
  /** Failed authentication: nothing more it sends is read. */
  refused?: boolean;
  authTimer?: NodeJS.Timeout;
}

const SYNC_MESSAGE = Buffer.from([SYNC, 0, 0, 0, 4]);

/** A Close of the prepared statement `name` (already prefixed). */
function closeStatement(name: string): Buffer {
  const body = Buffer.from(`S${name}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header[0] = CLOSE;
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/**
 * The unit with every statement name in it replaced by the connection's name for it in the session
 * (see PGliteWireServer); the same buffer when it names none. A name first seen in a Parse gets
 * the next one; a name never parsed keeps itself under the prefix (the session then answers that
 * it does not exist). The unit holds whole messages (see parse).
 */
function renameStatements(unit: Buffer, connection: Connection): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  for (let offset = 0; offset + 5 <= unit.length; ) {
    const type = unit[offset]!;
    const end = offset + 1 + unit.readInt32BE(offset + 1);
    // Where the statement name starts in the body, if this message names one.
    let at = -1;
    if (type === PARSE) at = offset + 5;
    else if (type === BIND) at = unit.indexOf(0, offset + 5) + 1;
    else if ((type === DESCRIBE || type === CLOSE) && unit[offset + 5] === STATEMENT) at = offset + 6;
    const nul = at > 0 ? unit.indexOf(0, at) : -1;
    if (nul > at && nul < end) {
      const name = unit.toString('latin1', at, nul);
      let inSession = connection.statements.get(name);
      if (inSession === undefined && type === PARSE) connection.statements.set(name, (inSession = `${connection.prefix}${connection.statements.size}`));
      const replacement = Buffer.from(inSession ?? `${connection.prefix}?${name}`, 'latin1');
      const renamed = Buffer.concat([unit.subarray(offset, at), replacement, unit.subarray(nul, end)]);
      renamed.writeInt32BE(renamed.length - 1, 1);
      parts.push(unit.subarray(copied, offset), renamed);
      copied = end;
    }
    offset = end;
  }
  if (!parts.length) return unit;
  parts.push(unit.subarray(copied));
  return Buffer.concat(parts);
}
