import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { type Observable, tap } from 'rxjs';
import { GatewayMetrics } from './gateway.metrics.js';

/** Counts client events and times them until their acknowledgement. */
@Injectable()
export class WsMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: GatewayMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const event = String(context.getArgByIndex(3) ?? 'unknown');
    const started = process.hrtime.bigint();
    this.metrics.eventsIn.inc({ event });
    const observe = (outcome: string) => this.metrics.ackLatency.observe({ event, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    return next.handle().pipe(tap({ next: () => observe('ok'), error: () => observe('error') }));
  }
}
