import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Parts read back from the spool file: the size DocumentStorage writes. */
const READ_BYTES = 256 * 1024;

/**
 * An upload received in full on local disk. A client may take minutes to send a file; holding a
 * database transaction (on embedded PGlite: the only connection) open that long would stall every
 * other request, so the bytes wait here and reach the database in one short transaction.
 */
export class SpooledFile {
  private constructor(
    private readonly directory: string,
    readonly path: string,
    readonly bytes: number,
  ) {}

  /** Writes `content` to a new temporary file; nothing is left behind when `content` fails. */
  static async from(content: AsyncIterable<Buffer>): Promise<SpooledFile> {
    const directory = await mkdtemp(join(tmpdir(), 'agent-chat-upload-'));
    const path = join(directory, 'file');
    let bytes = 0;
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        for await (const chunk of content) {
          await handle.write(chunk);
          bytes += chunk.length;
        }
      } finally {
        await handle.close();
      }
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
    return new SpooledFile(directory, path, bytes);
  }

  read(): AsyncIterable<Buffer> {
    return createReadStream(this.path, { highWaterMark: READ_BYTES });
  }

  async dispose(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true });
  }
}
