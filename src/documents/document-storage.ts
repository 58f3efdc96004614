import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * Where the original bytes of documents live. The metadata row comes first: a store writes and
 * removes the bytes of a document that exists.
 */
export abstract class DocumentStorage {
  /**
   * Stores the bytes as they come, never holding more than a part; inside the caller's transaction
   * when the store is the database. An error from the content stops it, and the caller rolls back.
   */
  abstract put(documentId: string, content: AsyncIterable<Buffer>, manager?: EntityManager): Promise<void>;
  /** The bytes as a stream, read as it is consumed. */
  abstract read(documentId: string): Readable;
  abstract remove(documentId: string, manager?: EntityManager): Promise<void>;
}

/** Parts small enough that reading one never holds much memory, large enough to be few rows. */
export const DOCUMENT_PART_BYTES = 256 * 1024;

@Injectable()
export class PostgresDocumentStorage extends DocumentStorage {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async put(documentId: string, content: AsyncIterable<Buffer>, manager: EntityManager = this.dataSource.manager): Promise<void> {
    let part = 0;
    for await (const data of inParts(content, DOCUMENT_PART_BYTES)) {
      await manager.query(`INSERT INTO "document_contents" ("document_id", "part", "data") VALUES ($1, $2, $3)`, [documentId, part++, data]);
    }
  }

  read(documentId: string): Readable {
    return Readable.from(this.parts(documentId));
  }

  async remove(documentId: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.query(`DELETE FROM "document_contents" WHERE "document_id" = $1`, [documentId]);
  }

  private async *parts(documentId: string): AsyncGenerator<Buffer> {
    for (let part = 0; ; part++) {
      const rows: { data: Buffer | Uint8Array }[] = await this.dataSource.query(
        `SELECT "data" FROM "document_contents" WHERE "document_id" = $1 AND "part" = $2`,
        [documentId, part],
      );
      if (!rows.length) return;
      const data = rows[0]!.data;
      if (data.length) yield Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }
  }
}

/** The content regrouped in parts of exactly `size` bytes but the last; an empty content is one empty part. */
async function* inParts(content: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let yielded = false;
  for await (const chunk of content) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < size) continue;
    let joined = Buffer.concat(pending);
    for (; joined.length >= size; joined = joined.subarray(size)) {
      yield joined.subarray(0, size);
      yielded = true;
    }
    pending = [joined];
    pendingBytes = joined.length;
  }
  if (pendingBytes || !yielded) yield Buffer.concat(pending);
}
