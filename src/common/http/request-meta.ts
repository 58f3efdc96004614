import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Where a request came from, as the audit trail records it. */
export interface RequestMeta {
  ip: string | null;
  requestId: string | null;
}

export function requestMetaOf(request: Pick<FastifyRequest, 'ip' | 'id'>): RequestMeta {
  return { ip: request.ip || null, requestId: request.id ? String(request.id) : null };
}

/** The caller's address (as Fastify resolves it, trusted proxies included) and the request id. */
export const CurrentRequest = createParamDecorator((_: unknown, context: ExecutionContext): RequestMeta => requestMetaOf(context.switchToHttp().getRequest<FastifyRequest>()));
