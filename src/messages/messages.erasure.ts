import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { AccountErasure, ERASURE_ORDER, type ErasureAnnouncement, type ErasureStep } from '../users/account-erasure.service.js';
import { MessagesRepository } from './messages.repository.js';

/** Every message a deleted account wrote, wherever it still is, becomes a tombstone. */
@Injectable()
export class MessagesErasure implements ErasureStep, OnModuleInit {
  constructor(
    private readonly erasure: AccountErasure,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly bus: RealtimeBus,
  ) {}

  onModuleInit(): void {
    this.erasure.register(this, ERASURE_ORDER.messages);
  }

  async erase(userId: string, manager: EntityManager): Promise<ErasureAnnouncement> {
    const { deleted, conversationIds } = await this.messages.erase({ authorId: userId }, manager);
    await this.conversations.forgetSummaries(conversationIds, manager);
    return () => {
      for (const { conversationId, id, seq, version } of deleted) this.bus.publish({ type: 'message.deleted', conversationId, messageId: id, seq, version });
    };
  }
}
