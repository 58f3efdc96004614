import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * Where the original bytes of documents live. The metadata row comes first: a store writes and
 * removes the bytes of a document that exists.
 */
export abstract class DocumentStorage {
  /** Stores the bytes; inside the caller's transaction when the store is the database. */
  abstract put(documentId: string, content: Buffer, manager?: EntityManager): Promise<void>;
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

  async put(documentId: string, content: Buffer, manager: EntityManager = this.dataSource.manager): Promise<void> {
    for (let part = 0, offset = 0; offset < content.length || part === 0; part++, offset += DOCUMENT_PART_BYTES) {
      const data = content.subarray(offset, offset + DOCUMENT_PART_BYTES);
      await manager.query(`INSERT INTO "document_contents" ("document_id", "part", "data") VALUES ($1, $2, $3)`, [documentId, part, data]);
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
