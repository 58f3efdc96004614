import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { isTransactionConflict } from '../database/database-errors.js';
import { keepOneAdmin } from './admins.js';
import { UsersRepository } from './users.repository.js';

/** Runs once the erasure has committed: announces what changed (domain events). */
export type ErasureAnnouncement = () => void;

/**
 * What one module erases of an account, inside the erasure's transaction. Modules above users
 * (conversations, messages, agent) register theirs, so the erasure reaches their data without
 * users depending on them.
 */
export interface ErasureStep {
  /**
   * Takes, before the account row or anything else, the row locks that the module's own writers
   * take first, so that the erasure locks in their order and cannot deadlock with them.
   */
  lock?(userId: string, manager: EntityManager): Promise<void>;
  erase(userId: string, manager: EntityManager): Promise<ErasureAnnouncement | undefined>;
}

/**
 * When each step runs, lowest first. What refers to a record is handled before the step that may
 * delete the record: the runs step must see the runs of conversations the conversations step
 * deletes (with everything in them), or their executing instances would never be told to stop.
 * Fixed here rather than left to the order Nest happens to initialise modules in.
 */
export const ERASURE_ORDER = { runs: 10, messages: 20, conversations: 30, documents: 40 } as const;

/**
 * The steps' locks come first (see ErasureStep.lock), but a conflict is still possible with what
 * changed between taking them and the account row (a conversation joined meanwhile); a retry wins.
 */
const ATTEMPTS = 4;
const BACKOFF_MS = 25;

const LAST_ADMIN = 'The last admin cannot delete their account; make another user an admin first';

/**
 * Account deletion as erasure: every registered step and the anonymisation of the user row commit
 * together or not at all; events go out only after the commit.
 */
@Injectable()
export class AccountErasure {
  private readonly steps: { step: ErasureStep; order: number }[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
  ) {}

  /** Adds a step, to run at `order` (see ERASURE_ORDER). */
  register(step: ErasureStep, order: number): void {
    const at = this.steps.findIndex((registered) => registered.order > order);
    this.steps.splice(at === -1 ? this.steps.length : at, 0, { step, order });
  }

  /**
   * Refuses (409) at once what `erase` would refuse, the deletion of the last admin's account,
   * before the caller undoes anything else (ends its sessions). `erase` checks again, under locks.
   */
  async checkErasable(userId: string): Promise<void> {
    keepOneAdmin(await this.dataSource.transaction((manager) => this.users.lockAdmins(manager)), userId, LAST_ADMIN);
  }

  /**
   * Erases the account; nothing happens to an account already deleted. A transaction the database
   * aborted for a conflict with a concurrent one (deadlock, serialization failure) runs again.
   * `within` runs in the erasure's transaction once the account is erased (its audit record).
   */
  async erase(userId: string, within?: (manager: EntityManager) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const announcements = await this.eraseOnce(userId, within);
        for (const announce of announcements) announce();
        return;
      } catch (error) {
        if (attempt >= ATTEMPTS || !isTransactionConflict(error)) throw error;
        // Jittered, so that the transactions that collided do not collide again in step.
        await sleep(BACKOFF_MS * attempt * (0.5 + Math.random()));
      }
    }
  }

  private eraseOnce(userId: string, within?: (manager: EntityManager) => Promise<void>): Promise<ErasureAnnouncement[]> {
    return this.dataSource.transaction(async (manager) => {
      for (const { step } of this.steps) await step.lock?.(userId, manager);
      // The admins' rows, as a role change locks them: of an admin stepping down and another
      // deleting her account at once, one waits for the other and then sees one admin left.
      keepOneAdmin(await this.users.lockAdmins(manager), userId, LAST_ADMIN);
      // The account row's lock makes a concurrent second deletion wait, then find nothing to do.
      if (!(await this.users.anonymise(userId, manager))) return [];
      const pending: ErasureAnnouncement[] = [];
      for (const { step } of this.steps) {
        const announce = await step.erase(userId, manager);
        if (announce) pending.push(announce);
      }
      await within?.(manager);
      return pending;
    });
  }
}
