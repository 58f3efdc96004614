import type { Readable } from 'node:stream';
import { HttpStatus, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { isTimeIdPosition, type TimeIdPosition } from '../common/pagination/time-id-position.js';
import { AppConfig } from '../config/app-config.js';
import { conversationNotFound, ConversationsService } from '../conversations/conversations.service.js';
import type { DocumentEntity } from './document.entity.js';
import { quotaLimits, quotaRefusal, type QuotaUsage } from './document-quota.js';
import { DocumentProcessor } from './document-processor.service.js';
import { DocumentStorage } from './document-storage.js';
import { DocumentsRepository, type LeadingChunks, type OwnedDocument } from './documents.repository.js';
import { DocumentDto, type DocumentPageDto, type ListDocumentsQuery } from './dto/document.dto.js';
import { isImage, MediaTypeSniffer, safeFilename } from './media-type.js';
import { type Upload, uploadTooLarge } from './upload-reader.js';
import { SpooledFile } from './upload-spool.js';
import { UploadSlots } from './upload-slots.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const unsupportedType = () =>
  new AppError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Accepted: text, Markdown, HTML, CSV, JSON, PDF, DOCX, PNG, JPEG, WebP, GIF');

const viewerCannotUpload = () => new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Viewers cannot add documents');

/** The account was deleted while it uploaded (its sessions end with it). */
const accountDeleted = () => new AppError(HttpStatus.UNAUTHORIZED, ErrorCode.SESSION_REVOKED, 'The session has ended; sign in again', { reason: 'account-deleted' });

/** No byte of the file for `ms`: the upload is given up (408), and its connection closed. */
const uploadStalled = (ms: number) =>
  new AppError(HttpStatus.REQUEST_TIMEOUT, ErrorCode.ERROR, `The upload stalled: no data for ${Math.round(ms / 1000)} s`);

const documentNotFound = () => new AppError(HttpStatus.NOT_FOUND, ErrorCode.DOCUMENT_NOT_FOUND, 'Document not found');

/**
 * Documents follow the access rules of where they live: a private one is its owner's alone; a
 * conversation's is readable by every participant, added by members and the owner, and deleted by
 * its uploader or the conversation's owner. Anything the caller cannot read is a 404.
 */
@Injectable()
export class DocumentsService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly storage: DocumentStorage,
    private readonly conversations: ConversationsService,
    private readonly config: AppConfig,
    private readonly processor: DocumentProcessor,
  ) {
    this.slots = new UploadSlots(config.limits.uploadsPerUserAtOnce);
  }

  /** Uploads under way per user on this instance: each holds a connection and spooled bytes. */
  private readonly slots: UploadSlots;

  /** The largest upload read at all; images are held to the smaller limit once recognised. */
  get maxUploadBytes(): number {
    return this.config.limits.documentMaxBytes;
  }

  /**
   * Where the upload goes, and whether a document more fits its quotas, are checked before any of
   * the file is read. The file is then received in full (on local disk, see SpooledFile), refused
   * as soon as its type is not accepted (415), it passes its limit (413) or what the quotas leave
   * (409); only then is it stored, in one short transaction that checks the quotas again under
   * locks (see checkQuotas), so concurrent uploads never pass them. Nothing of a refused upload is kept.
   */
  async upload(user: AuthUser, upload: Upload): Promise<DocumentDto> {
    const release = this.slots.acquire(user.id);
    try {
      return await this.receive(user, upload);
    } finally {
      release();
    }
  }

  private async receive(user: AuthUser, upload: Upload): Promise<DocumentDto> {
    const conversationId = await this.uploadTarget(user, upload.conversationId);
    const usage = await this.documents.usage(user.id, conversationId, null);
    const refusal = (bytes: number) => quotaRefusal(this.quotaLimits, usage, bytes, conversationId !== null);
    const early = refusal(0);
    if (early) throw early;
    const sniffer = new MediaTypeSniffer(upload.filename);
    const file = await SpooledFile.from(this.accepted(upload.file, sniffer, refusal));
    try {
      const mediaType = await sniffer.finish();
      if (!mediaType) throw unsupportedType();
      this.checkImageSize(mediaType, file.bytes);
      await upload.rest();
      const document = await this.documents.transaction(async (manager) => {
        const created = await this.documents.insert(
          { ownerId: user.id, conversationId, filename: safeFilename(upload.filename), mediaType, bytes: file.bytes },
          manager,
        );
        // Checked before the bytes are written: concurrent uploads over the quota cost no writes.
        await this.checkQuotas(user.id, conversationId, created.id, file.bytes, manager);
        await this.storage.put(created.id, file.read(), manager);
        return created;
      });
      this.processor.enqueue(document.id);
      return DocumentDto.from(document);
    } finally {
      await file.dispose();
    }
  }

  async list(user: AuthUser, query: ListDocumentsQuery): Promise<DocumentPageDto> {
    if (query.conversationId) await this.conversations.authorize(query.conversationId, user, 'read');
    const after = query.cursor ? decodeCursor<TimeIdPosition>(query.cursor, isTimeIdPosition) : undefined;
    const limit = query.limit ?? 50;
    const rows = await this.documents.list(
      { conversationId: query.conversationId ?? null, ownerId: user.id },
      { limit, ...(after && { after: { createdAt: after[0], id: after[1] } }) },
    );
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return { items: rows.map((row) => DocumentDto.from(row)), nextCursor: last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }

  async get(user: AuthUser, id: string): Promise<DocumentDto> {
    return DocumentDto.from((await this.readable(user, id)).document);
  }

  async content(user: AuthUser, id: string): Promise<{ document: DocumentDto; stream: Readable }> {
    const { document } = await this.readable(user, id);
    return { document: DocumentDto.from(document), stream: this.storage.read(id) };
  }

  /** Every document the user uploaded that still exists, oldest first, page by page (for their data export). */
  streamOwnedBy(userId: string): AsyncGenerator<OwnedDocument[]> {
    return this.documents.streamOwnedBy(userId);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    const { document, isConversationOwner } = await this.readable(user, id);
    if (document.ownerId !== user.id && !isConversationOwner) {
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Only the uploader or the conversation owner can delete a document');
    }
    await this.documents.transaction(async (manager) => {
      await this.storage.remove(id, manager);
      await this.documents.delete(id, manager);
    });
  }

  /**
   * Those of `ids` that are documents of the conversation: what a message there may carry, as
   * every participant can read them. Authorizing the caller is the caller's part.
   */
  attachable(conversationId: string, ids: string[]): Promise<DocumentEntity[]> {
    return this.documents.findInConversation(conversationId, ids);
  }

  /** The start of a document's text within about `maxTokens` (see DocumentsRepository.leadingChunks). */
  leadingText(documentId: string, maxTokens: number): Promise<LeadingChunks> {
    return this.documents.leadingChunks(documentId, maxTokens);
  }

  /** A document's bytes, or undefined when there are more than `maxBytes` (or none any more). */
  async bytesOf(documentId: string, maxBytes: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let total = 0;
    for await (const part of this.storage.read(documentId) as AsyncIterable<Buffer>) {
      total += part.length;
      if (total > maxBytes) return undefined;
      parts.push(part);
    }
    return parts.length ? Buffer.concat(parts) : undefined;
  }

  private async uploadTarget(user: AuthUser, conversationId: string | undefined): Promise<string | null> {
    if (conversationId === undefined) return null;
    if (!UUID.test(conversationId)) throw fieldError('conversationId', 'conversationId must be a UUID');
    try {
      await this.conversations.authorize(conversationId, user, 'send');
    } catch (error) {
      if (error instanceof AppError && error.getStatus() === HttpStatus.FORBIDDEN) throw viewerCannotUpload();
      throw error;
    }
    return conversationId;
  }

  /**
   * The quotas, at the end of the upload and before its commit, with the conversation's row and
   * then the uploader's locked until the commit (in the order account erasure locks them): uploads
   * to the same conversation or by the same user take turns here, each counting the ones committed
   * before it. Under the same lock, the conversation must still exist with the uploader allowed in
   * it, and the account must still exist: a deletion or removal that raced the upload wins.
   */
  private async checkQuotas(userId: string, conversationId: string | null, documentId: string, bytes: number, manager: EntityManager): Promise<void> {
    if (conversationId) {
      const role = await this.documents.lockConversationForUpload(conversationId, userId, manager);
      if (!role) throw conversationNotFound();
      if (role === 'viewer') throw viewerCannotUpload();
    }
    if (!(await this.documents.lockUploader(userId, manager))) throw accountDeleted();
    const refusal = quotaRefusal(this.quotaLimits, await this.documents.usage(userId, conversationId, documentId, manager), bytes, conversationId !== null);
    if (refusal) throw refusal;
  }

  private get quotaLimits(): QuotaUsage {
    return quotaLimits(this.config.limits);
  }

  /** The file's bytes as checked by `checked`, given up when the client stops sending. */
  private async *accepted(
    file: Upload['file'],
    sniffer: MediaTypeSniffer,
    overQuota: (bytes: number) => AppError | undefined,
  ): AsyncGenerator<Buffer> {
    // A client that stops sending would hold its connection and spooled bytes for ever.
    const idleMs = this.config.limits.uploadIdleTimeoutMs;
    const idle = setTimeout(() => file.destroy(uploadStalled(idleMs)), idleMs);
    try {
      yield* this.checked(file, sniffer, overQuota, () => idle.refresh());
    } finally {
      clearTimeout(idle);
    }
  }

  /** The file's bytes, refused as soon as its type is not accepted or it passes its limit or what the quotas leave. */
  private async *checked(
    file: Upload['file'],
    sniffer: MediaTypeSniffer,
    overQuota: (bytes: number) => AppError | undefined,
    onChunk: () => void,
  ): AsyncGenerator<Buffer> {
    let bytes = 0;
    for await (const chunk of file as AsyncIterable<Buffer>) {
      onChunk();
      bytes += chunk.length;
      const refusal = overQuota(bytes);
      if (refusal) throw refusal;
      if (!(await sniffer.push(chunk))) throw unsupportedType();
      if (sniffer.binaryType) this.checkImageSize(sniffer.binaryType, bytes);
      yield chunk;
    }
    if (file.truncated) throw uploadTooLarge(this.maxUploadBytes);
  }

  private checkImageSize(mediaType: string, bytes: number): void {
    const imageMax = this.config.limits.imageMaxBytes;
    if (isImage(mediaType) && bytes > imageMax) throw uploadTooLarge(imageMax, 'An image');
  }

  private async readable(user: AuthUser, id: string): Promise<{ document: DocumentEntity; isConversationOwner: boolean }> {
    const document = await this.documents.findById(id);
    if (!document) throw documentNotFound();
    if (!document.conversationId) {
      if (document.ownerId !== user.id) throw documentNotFound();
      return { document, isConversationOwner: false };
    }
    try {
      const { participant } = await this.conversations.authorize(document.conversationId, user, 'read');
      return { document, isConversationOwner: participant.role === 'owner' };
    } catch (error) {
      // Not a participant: the document is as invisible as its conversation.
      if (error instanceof AppError && error.getStatus() === HttpStatus.NOT_FOUND) throw documentNotFound();
      throw error;
    }
  }
}
