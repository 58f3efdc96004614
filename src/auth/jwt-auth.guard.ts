import { type ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import type { AuthUser } from '../common/auth/auth-user.js';
import { STREAM_TICKET_KEY } from '../common/auth/auth.decorators.js';
import { IS_PUBLIC_KEY } from '../common/decorators/public.decorator.js';
import { AppError, ErrorCode } from '../common/errors.js';
import { unauthorized } from './access-token.service.js';
import { StreamTicketsService } from './stream-tickets.service.js';

type TicketRequest = FastifyRequest & { query: Record<string, unknown>; user?: AuthUser };

/**
 * Global: every HTTP route needs a valid bearer token unless marked `@Public()`. Routes marked
 * `@AcceptsStreamTicket()` take a stream ticket (`?ticket=`) in its place.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly streamTickets: StreamTicketsService,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    if (context.getType() !== 'http') return true;
    if (this.marked(IS_PUBLIC_KEY, context)) return true;
    const request = context.switchToHttp().getRequest<TicketRequest>();
    // Already authenticated before its body was read (the useChat route, see app.factory.ts).
    if (request.user) return true;
    if (this.marked(STREAM_TICKET_KEY, context) && typeof request.query === 'object' && request.query !== null && 'ticket' in request.query) {
      return this.authenticateWithTicket(request);
    }
    return super.canActivate(context);
  }

  override handleRequest<TUser>(error: unknown, user: TUser | false): TUser {
    // Errors raised while loading the user keep their own status (401, or 503 with the database down).
    if (error) throw error;
    if (!user) throw unauthorized();
    return user;
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
