import { type CanActivate, type ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';

const BEARER = /^Bearer +(\S+)$/i;

// Digests have one length whatever was presented, so the comparison takes the same time too.
const digest = (token: string) => createHash('sha256').update(token).digest();

/** With METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(config: AppConfig) {
    this.expected = config.app.metricsToken === undefined ? undefined : digest(config.app.metricsToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const http = context.switchToHttp();
    const presented = BEARER.exec(http.getRequest<FastifyRequest>().headers.authorization ?? '')?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), this.expected)) return true;
    void http.getResponse<FastifyReply>().header('www-authenticate', 'Bearer');
    throw new AppError(HttpStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, 'Metrics need Authorization: Bearer <METRICS_TOKEN>');
  }
}
