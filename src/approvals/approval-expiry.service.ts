import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { ApprovalsRepository } from './approvals.repository.js';
import { ApprovalsService, type Decided, EXPIRED } from './approvals.service.js';

/** Runs whose expired approvals are read at once: a backlog (after downtime) goes in short steps. */
const BATCH = 100;

/**
 * Denies calls nobody decided in time (APPROVAL_TTL_MS), on every instance: each sweep locks what
 * it expires with SKIP LOCKED, so instances never expire the same call twice, and a call expired
 * while the service was down is expired at the next start.
 */
@Injectable()
export class ApprovalExpiry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ApprovalExpiry');
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly approvals: ApprovalsRepository,
    private readonly service: ApprovalsService,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /** Often enough that a call expires within a quarter of its lifetime, at most every 5 s. */
  get intervalMs(): number {
    return Math.min(5000, Math.max(250, Math.floor(this.config.agent.approvalTtlMs / 4)));
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
    void this.sweep();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Expires what is due; one sweep at a time in this process. */
  sweep(): Promise<void> {
    this.sweeping ??= this.expireDue()
      .catch((error: unknown) => this.logger.warn(`Approval expiry failed: ${String(error)}`))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async expireDue(): Promise<void> {
    for (;;) {
      const runs = await this.approvals.runsWithExpired(BATCH);
      for (const runId of runs) {
        // One run per transaction: its lock first, then its approvals (the order every path takes).
        const expired = await this.dataSource.transaction(async (manager) => {
          const decided: Decided[] = [];
          for (const approval of await this.approvals.lockExpiredOf(runId, manager)) decided.push(await this.service.settle(approval, EXPIRED, manager));
          return decided;
        });
        for (const decided of expired) this.service.announce(decided);
      }
      if (runs.length < BATCH) return;
    }
  }
}
