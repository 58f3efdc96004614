import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ROLES_KEY } from '../common/auth/auth.decorators.js';
import { AppError } from '../common/errors.js';
import { RolesGuard } from './roles.guard.js';

class Routes {
  @SetMetadata(ROLES_KEY, ['admin'])
  adminOnly(): void {}

  open(): void {}
}

function contextFor(handler: keyof Routes, role?: string): ExecutionContext {
  return {
    getType: () => 'http',
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => ({ user: role ? { id: 'u', role } : undefined }) }),
  } as unknown as ExecutionContext;
}

describe('RolesGuard', () => {
  const guard = new RolesGuard(new Reflector());

  it('lets anyone through a route without roles', () => {
    expect(guard.canActivate(contextFor('open', 'user'))).toBe(true);
  });

  it('admits the listed role', () => {
    expect(guard.canActivate(contextFor('adminOnly', 'admin'))).toBe(true);
  });

  it('refuses other roles with 403 FORBIDDEN', () => {
    let error: unknown;
    try {
      guard.canActivate(contextFor('adminOnly', 'user'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).getStatus()).toBe(403);
    expect((error as AppError).code).toBe('FORBIDDEN');
  });
});
