import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AccountErasure, ERASURE_ORDER, type ErasureStep } from '../users/account-erasure.service.js';
import { FeedbackRepository } from './feedback.repository.js';

/**
 * A deleted account's comments are erased; its ratings stay as anonymous counts (nobody ever saw
 * who gave them), so the replies' counts and versions do not change.
 */
@Injectable()
export class FeedbackErasure implements ErasureStep, OnModuleInit {
  constructor(
    private readonly erasure: AccountErasure,
    private readonly feedback: FeedbackRepository,
  ) {}

  onModuleInit(): void {
    this.erasure.register(this, ERASURE_ORDER.messages);
  }

  async erase(userId: string, manager: EntityManager): Promise<undefined> {
    await this.feedback.forgetComments(userId, manager);
    return undefined;
  }
}
