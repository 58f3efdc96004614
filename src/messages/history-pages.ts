import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { TtlCache } from '../common/cache/ttl-cache.js';
import { packageVersion } from '../common/logging/startup.js';
import { AppConfig } from '../config/app-config.js';
import { conversationNotFound } from '../conversations/conversations.service.js';
import { HISTORY_PAGE_SERIALIZATION_SCHEMA } from './dto/history-page.schema.js';
import { type HistoryPageDto, MessageDto } from './dto/message.dto.js';
import { type HistoryWindow, MessagesRepository } from './messages.repository.js';

/** A page of history as a client gets it, with the conversation's state token it was read at. */
interface HeldPage {
  token: string;
  page: HistoryPageDto;
}

/** What a request for a page of history answers. */
export type HistoryRead =
  | { notModified: false; page: HistoryPageDto; /** Absent for a page with a streaming reply: its text changes without a version. */ etag?: string }
  | { notModified: true; etag?: string };

/** Held pages live this long at most; each use is checked against the database anyway. */
const HELD_MS = 5 * 60_000;
/** Per message, on top of what is counted: ids, status, timestamps, small metadata — as held in memory. */
const MESSAGE_OVERHEAD_BYTES = 768;
/** Per attachment, on top of its filename and media type. */
const ATTACHMENT_OVERHEAD_BYTES = 160;

/**
 * The page's representation, in every ETag: a release that changes what a page looks like
 * (its fields, by the serialization schema, or anything else, by the package version) makes the
 * tags that clients hold from before it no longer match.
 */
const REPRESENTATION = createHash('sha256')
  .update(`${packageVersion()}\n${JSON.stringify(HISTORY_PAGE_SERIALIZATION_SCHEMA)}`)
  .digest('base64url')
  .slice(0, 8);

/** What a held page costs in memory, roughly: its strings twice over (UTF-16), plus what each message carries. */
function weigh({ page }: HeldPage): number {
  let bytes = 0;
  for (const message of page.items) {
    const { toolCalls, sources } = message.metadata;
    bytes += MESSAGE_OVERHEAD_BYTES + 2 * message.content.length;
    for (const { filename, mediaType } of message.attachmentDetails) bytes += ATTACHMENT_OVERHEAD_BYTES + 2 * (filename.length + mediaType.length);
    // Tool calls and sources are the metadata without a bound worth trusting: measured as sent.
    if (toolCalls || sources) bytes += 2 * JSON.stringify(message.metadata).length;
  }
  return bytes;
}

/**
 * Pages of history, read so that an unchanged page costs neither the database nor this process
 * much. Every change a participant can observe takes the conversation's next version, but for a
 * streaming reply's checkpoints: a page without a streaming reply, read in state S (version and
 * row version, see MessagesRepository.historyAt), is exactly what the same request answers while
 * the conversation is in S. So each request still asks the database — one statement that answers
 * the state, and the page only if the state is not the one already held (here, or by the client
 * through If-None-Match) — and instances need not tell each other anything. Held pages are bounded
 * by HISTORY_CACHE_MB (0: none held; ETags still work); the least recently read go first, so a
 * reader walking through many windows pushes out what nobody has read since, not the pages read
 * again and again (as long as they are read again before that walk fills the memory).
 */
@Injectable()
export class HistoryPages {
  private readonly held: TtlCache<string, HeldPage> | undefined;

  constructor(
    config: AppConfig,
    private readonly messages: MessagesRepository,
  ) {
    const maxWeight = config.limits.historyCacheBytes;
    this.held = maxWeight > 0 ? new TtlCache({ ttlMs: HELD_MS, maxEntries: 10_000, maxWeight, weigh, evictUnread: true }) : undefined;
  }

  /**
   * The page `window` of the conversation (whose access the caller has checked), or notModified
   * when `ifNoneMatch` (the request's If-None-Match) names the page as it still is.
   */
  async read(conversationId: string, window: HistoryWindow, ifNoneMatch?: string): Promise<HistoryRead> {
    const suffix = windowTag(window);
    const key = `${conversationId}|${suffix}`;
    const held = this.held?.get(key);
    const asked = ifNoneMatch === undefined ? undefined : askedTokens(ifNoneMatch, suffix);
    const matches = (token: string) => asked === 'any' || (asked?.includes(token) ?? false);
    const known = held?.token ?? (asked === 'any' ? undefined : asked?.[0]);
    const read = await this.messages.historyAt(conversationId, window, known);
    if (!read) throw conversationNotFound();
    const etag = `"${REPRESENTATION}.${read.token}-${suffix}"`;
    if (!read.page) {
      // Unchanged since the state asked about: the held page's, or else the client's.
      return matches(read.token) ? { notModified: true, etag } : { notModified: false, page: held!.page, etag };
    }
    const page: HistoryPageDto = { items: read.page.items.map(MessageDto.from), hasMore: read.page.hasMore };
    if (page.items.some((message) => message.status === 'streaming')) return asked === 'any' ? { notModified: true } : { notModified: false, page };
    this.held?.set(key, { token: read.token, page });
    return matches(read.token) ? { notModified: true, etag } : { notModified: false, page, etag };
  }
}

/** The part of a page's ETag that names the window (the state goes before it). */
function windowTag({ limit, afterSeq, beforeSeq }: HistoryWindow): string {
  return `${limit}.${afterSeq ?? ''}.${beforeSeq ?? ''}`;
}

/** Digits and one dot, as MessagesRepository.historyAt's tokens are; 41 characters at most (two 20-digit numbers). */
function isToken(text: string): boolean {
  if (text.length < 3 || text.length > 41) return false;
  let dots = 0;
  for (const char of text) {
    if (char === '.') dots++;
    else if (char < '0' || char > '9') return false;
  }
  return dots === 1 && !text.startsWith('.') && !text.endsWith('.');
}

/**
 * The state tokens of the entity tags in an If-None-Match value that are ours, of this release and
 * for this window (weak or strong alike: If-None-Match compares weakly), or 'any' for `*`.
 */
export function askedTokens(ifNoneMatch: string, suffix: string): string[] | 'any' {
  const prefix = `"${REPRESENTATION}.`;
  const end = `-${suffix}"`;
  const tokens: string[] = [];
  for (const raw of ifNoneMatch.split(',')) {
    let tag = raw.trim();
    if (tag === '*') return 'any';
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (!tag.startsWith(prefix) || !tag.endsWith(end) || tag.length < prefix.length + end.length) continue;
    const token = tag.slice(prefix.length, -end.length);
    if (isToken(token)) tokens.push(token);
  }
  return tokens;
}
