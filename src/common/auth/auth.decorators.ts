import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { UserRole } from '../../users/user.entity.js';
import { ApiErrors } from '../decorators/api-errors.decorator.js';
import type { AuthUser } from './auth-user.js';

export const ROLES_KEY = 'roles';
export const STREAM_TICKET_KEY = 'streamTicket';

/**
 * Marks a controller or route as requiring a bearer token (and optionally a role), and documents
 * it in OpenAPI. Authentication itself is enforced globally; `@Public()` opts out.
 */
export const Authenticated = (options: { roles?: UserRole[] } = {}) =>
  applyDecorators(
    ...(options.roles?.length ? [SetMetadata(ROLES_KEY, options.roles), ApiErrors(403)] : []),
    ApiBearerAuth(),
    ApiErrors(401),
  );

/**
 * Lets an SSE GET route authenticate with a stream ticket (`?ticket=`) instead of the bearer
 * token, for EventSource, which cannot send headers. Only routes marked so read the parameter: a
 * ticket copied from a log or history is useless anywhere else (and everywhere once used).
 */
export const AcceptsStreamTicket = () =>
  applyDecorators(
    SetMetadata(STREAM_TICKET_KEY, true),
    ApiQuery({
      name: 'ticket',
      required: false,
      type: String,
      description:
        'Instead of the Authorization header (EventSource cannot send one): a ticket from POST /api/v1/auth/stream-ticket. ' +
        'Single use, valid 60 s; a missing, used or expired one is a 401 TICKET_INVALID before the stream opens.',
    }),
  );

/** The authenticated caller of this request. */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthUser =>
    context.switchToHttp().getRequest<FastifyRequest & { user: AuthUser }>().user,
);
