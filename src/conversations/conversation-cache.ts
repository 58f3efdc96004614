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
  private subscription: Subscription | undefined;

  constructor(private readonly bus: RealtimeBus) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$.subscribe((event) => {
      switch (event.type) {
        case 'conversation.updated':
          if (this.entries.has(event.conversationId)) this.set(event.conversation);
          return;
        case 'conversation.deleted':
        case 'participant.removed':
          this.entries.delete(event.conversationId);
          return;
        case 'message.created': {
          // The append moved the conversation's counter and its author's read marker.
          const entry = this.entries.get(event.conversationId);
          if (!entry) return;
          const { message } = event;
          entry.view = {
            ...entry.view,
            lastSeq: Math.max(entry.view.lastSeq, message.seq),
            lastMessageAt: message.createdAt,
            participants: entry.view.participants.map((p) =>
              p.userId === message.authorId && p.lastReadSeq < message.seq ? { ...p, lastReadSeq: message.seq } : p,
            ),
          };
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

  set(view: ConversationView): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(view.id, { view, until: Date.now() + TTL_MS });
  }
}
