import { Injectable } from '@nestjs/common';
import { TtlCache } from '../common/cache/ttl-cache.js';
import { AppConfig } from '../config/app-config.js';
import { conversationNotFound } from '../conversations/conversations.service.js';
import { type HistoryPageDto, MessageDto } from './dto/message.dto.js';
import { type HistoryWindow, MessagesRepository } from './messages.repository.js';

/** A page of history as a client gets it, with the conversation's version it was read at. */
interface HeldPage {
  version: number;
  page: HistoryPageDto;
}

/** What a request for a page of history answers. */
export type HistoryRead =
  | { notModified: false; page: HistoryPageDto; /** Absent for a page with a streaming reply: its text changes without a version. */ etag?: string }
  | { notModified: true; etag?: string };

/** Held pages live this long at most; each use is checked against the database anyway. */
const HELD_MS = 5 * 60_000;
/** Per message, on top of its text: ids, status, timestamps, small metadata — as held in memory. */
const MESSAGE_OVERHEAD_BYTES = 768;

/** What a held page costs in memory, roughly: its text twice over (UTF-16), plus what each message carries. */
function weigh({ page }: HeldPage): number {
  let bytes = 0;
  for (const message of page.items) {
    const { toolCalls, sources } = message.metadata;
    bytes += MESSAGE_OVERHEAD_BYTES + 2 * message.content.length + 256 * message.attachmentDetails.length;
    // Tool calls and sources are the metadata without a bound worth trusting: measured as sent.
    if (toolCalls || sources) bytes += 2 * JSON.stringify(message.metadata).length;
  }
  return bytes;
}

/**
 * Pages of history, read so that an unchanged page costs neither the database nor this process
 * much. Every change a participant can observe takes the conversation's next version, but for a
 * streaming reply's checkpoints: a page without a streaming reply, read at version V, is exactly
 * what the same request answers while the conversation is at V. So each request still asks the
 * database — one statement that answers the version, and the page only if the version is not the
 * one already held (here, or by the client through If-None-Match) — and instances need not tell
 * each other anything. Held pages are bounded by HISTORY_CACHE_MB (0: none held; ETags still work).
 */
@Injectable()
export class HistoryPages {
  private readonly held: TtlCache<string, HeldPage> | undefined;

  constructor(
    config: AppConfig,
    private readonly messages: MessagesRepository,
  ) {
    const maxWeight = config.limits.historyCacheBytes;
    this.held = maxWeight > 0 ? new TtlCache({ ttlMs: HELD_MS, maxEntries: 10_000, maxWeight, weigh }) : undefined;
  }

  /**
   * The page `window` of the conversation (whose access the caller has checked), or notModified
   * when `ifNoneMatch` (the request's If-None-Match) names the page as it still is.
   */
  async read(conversationId: string, window: HistoryWindow, ifNoneMatch?: string): Promise<HistoryRead> {
    const suffix = windowTag(window);
    const key = `${conversationId}|${suffix}`;
    const held = this.held?.get(key);
    const asked = ifNoneMatch === undefined ? undefined : matchedVersion(ifNoneMatch, suffix);
    const matches = (version: number) => asked === 'any' || asked === version;
    const read = await this.messages.historyAt(conversationId, window, held?.version ?? (asked === 'any' ? undefined : asked));
    if (!read) throw conversationNotFound();
    const etag = `"${read.version}-${suffix}"`;
    if (!read.page) {
      // Unchanged since the version asked about: the held page's, or else the client's.
      return matches(read.version) ? { notModified: true, etag } : { notModified: false, page: held!.page, etag };
    }
    const page: HistoryPageDto = { items: read.page.items.map(MessageDto.from), hasMore: read.page.hasMore };
    if (page.items.some((message) => message.status === 'streaming')) return asked === 'any' ? { notModified: true } : { notModified: false, page };
    this.held?.set(key, { version: read.version, page });
    return matches(read.version) ? { notModified: true, etag } : { notModified: false, page, etag };
  }
}

/** The part of a page's ETag that names the window (the version goes before it). */
function windowTag({ limit, afterSeq, beforeSeq }: HistoryWindow): string {
  return `${limit}.${afterSeq ?? ''}.${beforeSeq ?? ''}`;
}

/**
 * The version in the first entity tag of an If-None-Match value that is one of ours for this
 * window (weak or strong: If-None-Match compares weakly), 'any' for `*`, else undefined.
 */
export function matchedVersion(ifNoneMatch: string, suffix: string): number | 'any' | undefined {
  for (const raw of ifNoneMatch.split(',')) {
    let tag = raw.trim();
    if (tag === '*') return 'any';
    if (tag.startsWith('W/')) tag = tag.slice(2);
    const end = `-${suffix}"`;
    if (!tag.startsWith('"') || !tag.endsWith(end)) continue;
    const digits = tag.slice(1, -end.length);
    if (digits.length === 0 || digits.length > 15 || ![...digits].every((char) => char >= '0' && char <= '9')) continue;
    return Number(digits);
  }
  return undefined;
}
