import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { tokensOf } from '../common/text/tokens.js';
import { AppConfig } from '../config/app-config.js';
import type { DocumentEntity } from '../documents/document.entity.js';
import { DocumentsService } from '../documents/documents.service.js';
import { isImage } from '../documents/media-type.js';
import type { MessageAttachment } from '../messages/message.entity.js';
import { type AttachmentPart, attachmentNote, documentExcerpt, markOf } from './attachment-parts.js';

/**
 * What an image counts for against the context budget: about what providers charge for one of
 * 1024×1024 pixels (OpenAI 765 tokens at high detail; Anthropic about (width × height) / 750).
 */
export const IMAGE_TOKENS = 800;
/** Room kept in a document's share for the truncation note. */
const TRUNCATION_NOTE_TOKENS = 20;
const PROCESSING_POLL_MS = 200;

/** A display name for notes: quoted, on one line. */
const named = (attachment: MessageAttachment) => JSON.stringify(attachment.filename);

function gone(attachment: MessageAttachment): AttachmentPart {
  return attachmentNote(attachment, 'deleted', `[Attachment ${named(attachment)} (${attachment.mediaType}) was deleted: its content is no longer available.]`);
}

/** The whole document's tokens without the chunks' overlap, estimated from the part that was read. */
function aboutTotal(totalTokens: number, shown: { tokens: number; rawTokens: number }): number {
  return shown.rawTokens ? Math.round((totalTokens * shown.tokens) / shown.rawTokens) : totalTokens;
}

/**
 * What the model is given of a message's attachments. Only documents of the message's own
 * conversation are read (that is all a message may carry; one deleted since is said to be gone),
 * so nothing reaches a participant through the agent that they could not read themselves.
 */
@Injectable()
export class AttachmentContext {
  constructor(
    private readonly documents: DocumentsService,
    private readonly config: AppConfig,
  ) {}

  /**
   * The attachments in the order given, within `allowance` tokens: images as file parts (each
   * counted as IMAGE_TOKENS, labelled with their name), documents as their text. Images come
   * first; documents share what is left, the smaller ones first so that what they leave goes to
   * the larger, each cut at a chunk boundary with a note saying how much is shown. Whatever cannot
   * be given is said in a note instead, so the model never answers as if it had seen it.
   */
  async parts(conversationId: string, attachments: MessageAttachment[], allowance: number): Promise<{ parts: AttachmentPart[]; tokens: number }> {
    const current = await this.settled(conversationId, attachments.map((attachment) => attachment.id));
    const budget = { left: allowance };
    const rendered = new Map<string, AttachmentPart[]>();
    for (const image of attachments.filter((attachment) => isImage(attachment.mediaType))) {
      rendered.set(image.id, await this.image(image, current.get(image.id), budget));
    }
    const documents = attachments.filter((attachment) => !isImage(attachment.mediaType)).toSorted((a, b) => a.bytes - b.bytes);
    for (const [index, document] of documents.entries()) {
      const share = Math.floor(budget.left / (documents.length - index));
      rendered.set(document.id, await this.document(document, current.get(document.id), share, budget));
    }
    const parts = attachments.flatMap((attachment) => rendered.get(attachment.id) ?? []);
    return { parts, tokens: parts.reduce((sum, part) => sum + (part.type === 'text' ? tokensOf(part.text) : IMAGE_TOKENS), 0) };
  }

  /**
   * Attachments of earlier messages are named, not sent again: the model saw them when they were
   * sent (its answer is in the history), and sending every image and document on every turn would
   * spend the context on them. Whoever wants one read again attaches it again.
   */
  earlier(attachments: MessageAttachment[]): AttachmentPart[] {
    return attachments.map((attachment) =>
      attachmentNote(attachment, 'earlier', `[Attached: ${named(attachment)} (${attachment.mediaType}); its content is not repeated here]`),
    );
  }

  /**
   * The attachments' documents as they are now (a deleted one is missing), once none with text
   * to extract is still processing or ATTACHMENT_WAIT_MS has passed: an upload sent at once with
   * the message it belongs to is read when it is ready, and a slow one does not hold the run.
   */
  private async settled(conversationId: string, ids: string[]): Promise<Map<string, DocumentEntity>> {
    const deadline = Date.now() + this.config.limits.attachmentWaitMs;
    for (;;) {
      const documents = await this.documents.attachable(conversationId, ids);
      const waiting = documents.some((document) => document.status === 'processing' && !isImage(document.mediaType));
      if (!waiting || Date.now() >= deadline) return new Map(documents.map((document) => [document.id, document]));
      await sleep(PROCESSING_POLL_MS);
    }
  }

  private async image(attachment: MessageAttachment, document: DocumentEntity | undefined, budget: { left: number }): Promise<AttachmentPart[]> {
    const { imageMaxBytes } = this.config.limits;
    if (!document) return [gone(attachment)];
    if (document.bytes > imageMaxBytes) {
      return [attachmentNote(attachment, 'too-large', `[Image ${named(attachment)} not included: it is larger than the ${imageMaxBytes} bytes images may have.]`)];
    }
    if (budget.left < IMAGE_TOKENS) {
      return [attachmentNote(attachment, 'over-budget', `[Image ${named(attachment)} not included: the context budget is used up.]`)];
    }
    const data = await this.documents.bytesOf(document.id, imageMaxBytes);
    if (!data) return [gone(attachment)];
    budget.left -= IMAGE_TOKENS;
    return [
      attachmentNote(attachment, 'image', `[Attached image: ${named(attachment)}]`),
      { type: 'file', data, mediaType: document.mediaType, filename: document.filename, ...markOf(attachment, 'image') },
    ];
  }

  private async document(attachment: MessageAttachment, document: DocumentEntity | undefined, share: number, budget: { left: number }): Promise<AttachmentPart[]> {
    if (!document) return [gone(attachment)];
    const name = named(attachment);
    if (document.status === 'processing') {
      return [attachmentNote(attachment, 'processing', `[Attached document ${name}: still being processed, so its text is not available yet.]`)];
    }
    if (document.status === 'failed') return [attachmentNote(attachment, 'failed', `[Attached document ${name} could not be read: ${document.error ?? 'unreadable'}]`)];
    const header = `[Attached document: ${name}]\n`;
    // Read a little past the share: the chunks' overlap is removed from what is shown.
    const { chunks, totalChunks, totalTokens } = await this.documents.leadingText(document.id, 2 * share);
    if (!totalChunks) return [attachmentNote(attachment, 'empty', `[Attached document ${name}: no text could be extracted from it.]`)];
    const excerpt = documentExcerpt(chunks, Math.max(0, share - tokensOf(header) - TRUNCATION_NOTE_TOKENS));
    const complete = excerpt.shownChunks === totalChunks;
    let text = header + excerpt.text;
    if (!complete) {
      const rawTokens = chunks.slice(0, excerpt.shownChunks).reduce((sum, chunk) => sum + chunk.tokens, 0);
      text += `\n[truncated: showing ${excerpt.tokens} of about ${aboutTotal(totalTokens, { tokens: excerpt.tokens, rawTokens })} tokens]`;
    }
    budget.left -= tokensOf(text);
    return [attachmentNote(attachment, complete ? 'text' : 'truncated', text)];
  }
}
