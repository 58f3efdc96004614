import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { AccountErasure, ERASURE_ORDER, type ErasureAnnouncement, type ErasureStep } from '../users/account-erasure.service.js';
import type { ConversationView } from './conversation.view.js';
import { ConversationsRepository } from './conversations.repository.js';

/** A deleted account's conversations and memberships (see ConversationsRepository.eraseParticipant). */
@Injectable()
export class ConversationsErasure implements ErasureStep, OnModuleInit {
  constructor(
    private readonly erasure: AccountErasure,
    private readonly conversations: ConversationsRepository,
    private readonly bus: RealtimeBus,
  ) {}

  onModuleInit(): void {
    this.erasure.register(this, ERASURE_ORDER.conversations);
  }

  /** Every change of a conversation locks its row first (ConversationsRepository.versioned); so does the erasure. */
  lock(userId: string, manager: EntityManager): Promise<void> {
    return this.conversations.lockTracesOf(userId, manager);
  }

  async erase(userId: string, manager: EntityManager): Promise<ErasureAnnouncement> {
    const { deleted, left } = await this.conversations.eraseParticipant(userId, manager);
    const views: ConversationView[] = [];
    for (const id of left) {
      const view = await this.conversations.findView(id, manager);
      if (view) views.push(view);
    }
    return () => {
      for (const conversationId of deleted) this.bus.publish({ type: 'conversation.deleted', conversationId });
      for (const view of views) {
        this.bus.publish({ type: 'participant.removed', conversationId: view.id, userId });
        // Read after the version its change of participants took, under that change's lock.
        this.bus.publish({ type: 'conversation.updated', conversationId: view.id, conversation: view, version: view.version });
      }
    };
  }
}
