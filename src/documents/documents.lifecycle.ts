import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ConversationDeletion, type ConversationDeletionStep } from '../conversations/conversation-deletion.js';
import { AccountErasure, ERASURE_ORDER, type ErasureStep } from '../users/account-erasure.service.js';
import { DocumentsRepository } from './documents.repository.js';

/**
 * Documents end with what they belong to, in the same transaction: a conversation's when it is
 * deleted, and everything an account uploaded when it is erased, its uploads to conversations that
 * live on included (as its messages there keep nothing of what it wrote). Their bytes and chunks
 * go by cascade. At start-up, documents that earlier versions left behind are swept.
 */
@Injectable()
export class DocumentsLifecycle implements ConversationDeletionStep, ErasureStep, OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(DocumentsLifecycle.name);

  constructor(
    private readonly documents: DocumentsRepository,
    private readonly conversationDeletion: ConversationDeletion,
    private readonly erasure: AccountErasure,
  ) {}

  onModuleInit(): void {
    this.conversationDeletion.register(this);
    this.erasure.register(this, ERASURE_ORDER.documents);
  }

  async onApplicationBootstrap(): Promise<void> {
    const swept = await this.documents.deleteOrphaned();
    if (swept) this.logger.log(`Deleted ${swept} documents of deleted conversations and accounts`);
  }

  async delete(conversationId: string, manager: EntityManager): Promise<void> {
    await this.documents.deleteOfConversation(conversationId, manager);
  }

  async erase(userId: string, manager: EntityManager): Promise<undefined> {
    await this.documents.deleteOwnedBy(userId, manager);
    return undefined;
  }
}
