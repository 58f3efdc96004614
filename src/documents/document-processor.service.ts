import { Injectable, Logger } from '@nestjs/common';
import { chunkSections } from './chunker.js';
import { DocumentStorage } from './document-storage.js';
import { DocumentsRepository } from './documents.repository.js';
import { EmbeddingWorker } from './embeddings/embedding-worker.service.js';
import { ExtractionError, extractSections } from './extraction/extractor.js';

const UNREADABLE = 'The document could not be read';

/**
 * Turns a stored document into searchable chunks, off the request that uploaded it: extraction,
 * chunking, then the chunks and the `ready` status in one transaction (a document is never ready
 * with half its chunks). A document that cannot be read ends `failed` with a reason users can read.
 */
@Injectable()
export class DocumentProcessor {
  private readonly logger = new Logger(DocumentProcessor.name);
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly documents: DocumentsRepository,
    private readonly storage: DocumentStorage,
    private readonly embeddings: EmbeddingWorker,
  ) {}

  /** Queued: one document at a time, so extraction never takes more than one core's share. */
  enqueue(documentId: string): void {
    this.queue = this.queue.then(() => this.process(documentId));
  }

  async process(documentId: string): Promise<void> {
    const document = await this.documents.findById(documentId);
    if (!document || document.status !== 'processing') return;
    try {
      const bytes = await this.read(documentId);
      const chunks = chunkSections(await extractSections(document.mediaType, bytes));
      await this.documents.completeProcessing(documentId, chunks);
      this.embeddings.wake();
    } catch (error) {
      const reason = error instanceof ExtractionError ? error.message : UNREADABLE;
      if (!(error instanceof ExtractionError)) this.logger.warn(`Document ${documentId} could not be processed: ${String(error)}`);
      await this.documents.failProcessing(documentId, reason);
    }
  }

  private async read(documentId: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.storage.read(documentId)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }
}
