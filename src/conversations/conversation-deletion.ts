import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/**
 * What a module deletes along with a conversation, inside the transaction that marks it deleted.
 * Modules above conversations (documents) register theirs, so that nothing of a deleted
 * conversation outlives it without conversations depending on them.
 */
export interface ConversationDeletionStep {
  delete(conversationId: string, manager: EntityManager): Promise<void>;
}

@Injectable()
export class ConversationDeletion {
  private readonly steps: ConversationDeletionStep[] = [];

  register(step: ConversationDeletionStep): void {
    this.steps.push(step);
  }

  async run(conversationId: string, manager: EntityManager): Promise<void> {
    for (const step of this.steps) await step.delete(conversationId, manager);
  }
}
