import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { UsersRepository } from './users.repository.js';

/** Runs once the erasure has committed: announces what changed (domain events). */
export type ErasureAnnouncement = () => void;

/**
 * What one module erases of an account, inside the erasure's transaction. Modules above users
 * (conversations, messages, agent) register theirs, so the erasure reaches their data without
 * users depending on them. Each step must be correct whichever steps ran before it.
 */
export interface ErasureStep {
  erase(userId: string, manager: EntityManager): Promise<ErasureAnnouncement | undefined>;
}

/**
 * Account deletion as erasure: every registered step and the anonymisation of the user row commit
 * together or not at all; events go out only after the commit.
 */
@Injectable()
export class AccountErasure {
  private readonly steps: ErasureStep[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
  ) {}

  /**
   * Modules register in their onModuleInit, which Nest calls dependencies first; steps run in the
   * reverse order, so what refers to a record (a run to its message) is handled before the record.
   */
  register(step: ErasureStep): void {
    this.steps.unshift(step);
  }

  /** Erases the account; nothing happens to an account already deleted. */
  async erase(userId: string): Promise<void> {
    const announcements = await this.dataSource.transaction(async (manager) => {
      // First: the row lock makes a concurrent second deletion wait, then find nothing to do.
      if (!(await this.users.anonymise(userId, manager))) return [];
      const pending: ErasureAnnouncement[] = [];
      for (const step of this.steps) {
        const announce = await step.erase(userId, manager);
        if (announce) pending.push(announce);
      }
      return pending;
    });
    for (const announce of announcements) announce();
  }
}
