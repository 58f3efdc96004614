import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { UserRole } from '../../users/user.entity.js';
import { ApiErrors } from '../decorators/api-errors.decorator.js';
import type { AuthUser } from './auth-user.js';

export const ROLES_KEY = 'roles';

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

/** The authenticated caller of this request. */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthUser =>
    context.switchToHttp().getRequest<FastifyRequest & { user: AuthUser }>().user,
);
