import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per application instance (not prom-client's global one), so that
 * several apps in one process, as in tests, never collide. Modules register their own metrics here.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** Labelled children by `method route status`: observe() with a label object hashes it on every call. */
  private readonly httpChildren = new Map<string, { observe(value: number): void }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** `route` is the matched pattern (`/api/v1/conversations/:id`), never the raw URL, to bound cardinality. */
  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${route} ${statusCode}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpRequestDuration.labels({ method, route, status_code: String(statusCode) });
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
