import { type CanActivate, type ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SecretMatcher } from '../common/crypto/secret-matcher.js';
import { AppError, ErrorCode } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';

const BEARER = /^Bearer +(\S+)$/i;

/** With METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly token: SecretMatcher | undefined;

  constructor(config: AppConfig) {
    this.token = config.app.metricsToken === undefined ? undefined : new SecretMatcher(config.app.metricsToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.token) return true;
    const http = context.switchToHttp();
    const presented = BEARER.exec(http.getRequest<FastifyRequest>().headers.authorization ?? '')?.[1];
    if (presented !== undefined && this.token.matches(presented)) return true;
    void http.getResponse<FastifyReply>().header('www-authenticate', 'Bearer');
    throw new AppError(HttpStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, 'Metrics need Authorization: Bearer <METRICS_TOKEN>');
  }
}
