import { Injectable, type OnModuleDestroy } from '@nestjs/common';

/** Whether this instance should receive new traffic; flips off as soon as shutdown begins. */
@Injectable()
export class ReadinessService implements OnModuleDestroy {
  private shuttingDown = false;

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** Also covers shutdowns not started by a signal (for example app.close() in tests). */
  onModuleDestroy(): void {
    this.shuttingDown = true;
  }
}
