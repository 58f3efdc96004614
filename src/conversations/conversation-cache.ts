import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { TtlCache } from '../common/cache/ttl-cache.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { ConversationView } from './conversation.view.js';

/**
 * Recently loaded conversations, so the access check on every message and history request does
 * not cost a query. Kept current by the domain events every change publishes (on every instance,
 * through the bus); entries also expire after 2 s, which bounds staleness if Redis is down.
 * A change of settings or membership invalidates, so a read that started before it is not kept.
 */
@Injectable()
export class ConversationCache implements OnModuleInit, OnModuleDestroy {
  private readonly views = new TtlCache<string, ConversationView>({ ttlMs: 2000, maxEntries: 10_000 });
  private subscription: Subscription | undefined;

  constructor(private readonly bus: RealtimeBus) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$.subscribe((event) => {
      switch (event.type) {
        case 'conversation.updated': {
          const held = this.views.get(event.conversationId);
          this.views.invalidate(event.conversationId);
          // Events of several instances may arrive out of order: an older state is never taken
          // over a newer one; the entry is read again instead.
          if (held && event.conversation.version >= held.version) this.views.set(event.conversationId, event.conversation);
          return;
        }
        case 'conversation.deleted':
        case 'participant.removed':
          this.views.invalidate(event.conversationId);
          return;
        case 'message.created': {
          // The append moved the conversation's counters and its author's read marker.
          const { message } = event;
          this.views.update(event.conversationId, (view) => ({
            ...view,
            lastSeq: Math.max(view.lastSeq, message.seq),
            version: Math.max(view.version, message.version),
            lastMessageAt: message.createdAt,
            participants: view.participants.map((p) =>
              p.userId === message.authorId && p.lastReadSeq < message.seq ? { ...p, lastReadSeq: message.seq } : p,
            ),
          }));
          return;
        }
        case 'message.updated':
        case 'message.deleted':
        case 'run.completed':
        case 'run.failed':
        case 'run.cancelled': {
          const version = event.type === 'message.updated' ? event.message.version : event.version;
          this.views.update(event.conversationId, (view) => (view.version < version ? { ...view, version } : view));
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

  /**
   * The conversation as cached, or else as `read` answers — cached unless a change arrived while
   * it was being read (a participant removed meanwhile must not be let back in by the older copy).
   */
  getOrLoad(id: string, read: (id: string) => Promise<ConversationView | undefined>): Promise<ConversationView | undefined> {
    return this.views.getOrLoad(id, read);
  }
}
