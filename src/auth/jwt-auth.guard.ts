import { type CanActivate, type ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { AuthUser } from '../common/auth/auth-user.js';
import { STREAM_TICKET_KEY } from '../common/auth/auth.decorators.js';
import { IS_PUBLIC_KEY } from '../common/decorators/public.decorator.js';
import { AppError, ErrorCode } from '../common/errors.js';
import { AccessTokenService, bearerToken } from './access-token.service.js';
import { StreamTicketsService } from './stream-tickets.service.js';

type TicketRequest = FastifyRequest & { query: Record<string, unknown>; user?: AuthUser };

/**
 * Global: every HTTP route needs a valid bearer token unless marked `@Public()`. Routes marked
 * `@AcceptsStreamTicket()` take a stream ticket (`?ticket=`) in its place. The bearer token is
 * checked by AccessTokenService.authenticate, as the Socket.IO handshake's is: a missing, bad or
 * expired one is a 401, a revoked session a 401 SESSION_REVOKED, a database outage a 503.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly streamTickets: StreamTicketsService,
    private readonly accessTokens: AccessTokenService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.marked(IS_PUBLIC_KEY, context)) return true;
    const request = context.switchToHttp().getRequest<TicketRequest>();
    // Already authenticated before its body was read (the useChat route, see app.factory.ts).
    if (request.user) return true;
    if (this.marked(STREAM_TICKET_KEY, context) && typeof request.query === 'object' && request.query !== null && 'ticket' in request.query) {
      return this.authenticateWithTicket(request);
    }
    return this.authenticate(request);
  }

  private async authenticate(request: TicketRequest): Promise<boolean> {
    request.user = await this.accessTokens.authenticate(bearerToken(request) ?? '');
    return true;
  }

  private marked(key: string, context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(key, [context.getHandler(), context.getClass()]) === true;
  }

  private async authenticateWithTicket(request: TicketRequest): Promise<boolean> {
    const { ticket } = request.query;
    // Out of the query, so that nothing after authentication (validation, handlers) sees or echoes it.
    delete request.query.ticket;
    if (request.headers.authorization !== undefined) {
      throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Send either an Authorization header or a ticket, not both');
    }
    request.user = await this.streamTickets.redeem(ticket);
    return true;
  }
}
