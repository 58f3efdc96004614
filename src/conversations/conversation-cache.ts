import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { ConversationView } from './conversation.view.js';

const TTL_MS = 2000;
const MAX_ENTRIES = 10_000;

/**
 * Recently loaded conversations, so the access check on every message and history request does
 * not cost a query. Kept current by the domain events every change publishes (on every instance,
 * through the bus); entries also expire after 2 s, which bounds staleness if Redis is down.
 */
@Injectable()
export class ConversationCache implements OnModuleInit, OnModuleDestroy {
  private readonly entries = new Map<string, { view: ConversationView; until: number }>();
  /** Bumped by every change of settings or membership: a read that started before one is not cached. */
  private epoch = 0;
  private subscription: Subscription | undefined;

  constructor(private readonly bus: RealtimeBus) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$.subscribe((event) => {
      switch (event.type) {
        case 'conversation.updated': {
          this.epoch++;
          const held = this.entries.get(event.conversationId);
          if (!held) return;
          // Events of several instances may arrive out of order: an older state is never taken
          // over a newer one; the entry is read again instead.
          if (event.conversation.version >= held.view.version) this.set(event.conversation);
          else this.entries.delete(event.conversationId);
          return;
        }
        case 'conversation.deleted':
        case 'participant.removed':
          this.epoch++;
          this.entries.delete(event.conversationId);
          return;
        case 'message.created': {
          // The append moved the conversation's counters and its author's read marker.
          const entry = this.entries.get(event.conversationId);
          if (!entry) return;
          const { message } = event;
          entry.view = {
            ...entry.view,
            lastSeq: Math.max(entry.view.lastSeq, message.seq),
            version: Math.max(entry.view.version, message.version),
            lastMessageAt: message.createdAt,
            participants: entry.view.participants.map((p) =>
              p.userId === message.authorId && p.lastReadSeq < message.seq ? { ...p, lastReadSeq: message.seq } : p,
            ),
          };
          return;
        }
        case 'message.updated':
        case 'message.deleted':
        case 'run.completed':
        case 'run.failed':
        case 'run.cancelled': {
          const entry = this.entries.get(event.conversationId);
          const version = event.type === 'message.updated' ? event.message.version : event.version;
          if (entry && entry.view.version < version) entry.view = { ...entry.view, version };
          return;
        }
        default:
          return;
      }
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  get(id: string): ConversationView | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.view;
    this.entries.delete(id);
    return undefined;
  }

  /**
   * Reads a conversation and caches it — unless a change arrived while it was being read (a
   * participant removed meanwhile must not be let back in by the older copy).
   */
  async load(id: string, read: (id: string) => Promise<ConversationView | undefined>): Promise<ConversationView | undefined> {
    const epoch = this.epoch;
    const view = await read(id);
    if (view && epoch === this.epoch) this.set(view);
    return view;
  }

  private set(view: ConversationView): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(view.id, { view, until: Date.now() + TTL_MS });
  }
}
