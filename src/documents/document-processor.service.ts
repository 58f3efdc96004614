import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { DEFAULT_CHUNKING } from './chunker.js';
import { DocumentStorage } from './document-storage.js';
import { DocumentsRepository } from './documents.repository.js';
import { DocumentDto } from './dto/document.dto.js';
import { EmbeddingWorker } from './embeddings/embedding-worker.service.js';
import { ExtractionPool } from './extraction/extraction-pool.js';
import { ExtractionAborted, type ExtractionLimits, type ExtractionResult } from './extraction/extraction-runner.js';
import { ExtractionError, hasText } from './extraction/extractor.js';

const UNREADABLE = 'The document could not be read';
/** How long a claim holds without renewal: another instance takes over a document only after it. */
export const DOCUMENT_LEASE_MS = 60_000;
/** Renewed well before it runs out; also how often documents left by a stopped instance are looked for. */
const RENEW_EVERY_MS = DOCUMENT_LEASE_MS / 3;

/**
 * Turns stored documents into searchable chunks, off the request that uploaded them. The database
 * is the queue: an instance claims a document (a lease it renews), extracts its text in one of its
 * worker processes, then stores the chunks in short batches and sets the `ready` status once all of them
 * are stored (a document is never ready with half its chunks; see completeProcessing), or
 * `failed` with a reason users can read. Documents left by a stopped or crashed instance are
 * taken over at start-up or once their lease runs out. Every change of status is announced as
 * `document:updated`.
 */
@Injectable()
export class DocumentProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DocumentProcessor.name);
  private readonly active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private pumping = false;
  /** Set by every wake-up: a claim that found nothing while it was set looks again. */
  private wanted = false;
  private stopping = false;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly extraction: ExtractionPool;

  constructor(
    private readonly documents: DocumentsRepository,
    private readonly storage: DocumentStorage,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
    private readonly embeddings: EmbeddingWorker,
  ) {
    this.extraction = new ExtractionPool({ size: config.limits.documentExtractionConcurrency });
  }

  onApplicationBootstrap(): void {
    this.wake();
    this.sweeper = setInterval(() => this.wake(), RENEW_EVERY_MS);
    this.sweeper.unref();
  }

  /** A document was uploaded: it is claimed, oldest first (one per user at a time), as soon as a slot is free here or on another instance. */
  enqueue(_documentId?: string): void {
    this.wake();
  }

  /**
   * Stops claiming, stops the extractions under way and gives their documents back, so that the
   * next instance (or this one restarted) takes them at once instead of after the lease. No worker
   * process outlives the server.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const { abort } of this.active.values()) abort.abort();
    await Promise.all([...this.active.values()].map(({ done }) => done));
    await this.extraction.close();
  }

  private wake(): void {
    this.wanted = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopping && this.active.size < this.config.limits.documentExtractionConcurrency) {
        this.wanted = false;
        const id = await this.documents.claimNext(DOCUMENT_LEASE_MS);
        if (id && this.stopping) await this.documents.releaseLease(id);
        else if (id) this.start(id);
        else if (!this.wanted) break;
      }
    } catch (error) {
      // The database is away: the sweep tries again.
      this.logger.warn(`Documents could not be claimed: ${String(error)}`);
    } finally {
      this.pumping = false;
    }
  }

  private start(id: string): void {
    const abort = new AbortController();
    const done = this.process(id, abort.signal).finally(() => {
      this.active.delete(id);
      this.wake();
    });
    this.active.set(id, { abort, done });
  }

  /** Processes a claimed document, renewing its lease meanwhile. */
  private async process(id: string, signal: AbortSignal): Promise<void> {
    const renewal = setInterval(() => void this.documents.renewLease(id, DOCUMENT_LEASE_MS).catch(() => undefined), RENEW_EVERY_MS);
    try {
      const changed = await this.extractAndStore(id, signal);
      if (!changed) return;
      // New chunks to embed (a no-op without an embedding model).
      this.embeddings.wake();
      await this.announce(id);
    } catch (error) {
      if (error instanceof ExtractionAborted) {
        await this.documents.releaseLease(id).catch(() => undefined);
        return;
      }
      this.logger.warn(`Document ${id} could not be processed: ${error instanceof Error ? error.message : String(error)}`);
      if (await this.documents.failProcessing(id, UNREADABLE).catch(() => false)) await this.announce(id).catch(() => undefined);
    } finally {
      clearInterval(renewal);
    }
  }

  /** Whether the document changed status (false: it was deleted meanwhile). */
  private async extractAndStore(id: string, signal: AbortSignal): Promise<boolean> {
    const document = await this.documents.findById(id);
    if (!document || document.status !== 'processing') return false;
    // Images have no text: they are attachments for vision models.
    if (!hasText(document.mediaType)) return this.documents.completeProcessing(id, []);
    let result: ExtractionResult;
    try {
      result = await this.extraction.run(document.mediaType, await this.read(id), this.limits(), signal);
    } catch (error) {
      if (error instanceof ExtractionError) return this.documents.failProcessing(id, error.message);
      throw error;
    }
    const { documentMaxChunks, documentMaxTextChars } = this.config.limits;
    // The cap on chunks cuts the text earlier than the cap on characters, when both apply.
    if (result.chunks.length > documentMaxChunks) return this.documents.completeProcessing(id, result.chunks.slice(0, documentMaxChunks), truncationNotice(documentMaxChunks, 'chunks'));
    return this.documents.completeProcessing(id, result.chunks, result.truncated ? truncationNotice(documentMaxTextChars, 'characters') : null);
  }

  private limits(): ExtractionLimits {
    const { documentExtractionTimeoutMs, documentExtractionMemoryMb, documentMaxTextChars } = this.config.limits;
    return { timeoutMs: documentExtractionTimeoutMs, memoryMb: documentExtractionMemoryMb, maxChars: documentMaxTextChars, chunking: DEFAULT_CHUNKING };
  }

  /** The document as GET /documents/:id shows it, to the conversation or to its owner. */
  private async announce(id: string): Promise<void> {
    const document = await this.documents.findById(id);
    if (!document) return;
    this.bus.publish({ type: 'document.updated', conversationId: document.conversationId ?? undefined, document: DocumentDto.from(document) });
  }

  private async read(documentId: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.storage.read(documentId)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }
}

function truncationNotice(count: number, of: 'characters' | 'chunks'): string {
  return `Only the first ${count.toLocaleString('en-US')} ${of} of the text were indexed: the rest of the document cannot be searched`;
}
