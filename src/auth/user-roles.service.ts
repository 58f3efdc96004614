import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode } from '../common/errors.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import { keepOneAdmin } from '../users/admins.js';
import { UserDto } from '../users/dto/user.dto.js';
import type { UserRole } from '../users/user.entity.js';
import { UsersRepository } from '../users/users.repository.js';
import { AccessTokenService } from './access-token.service.js';

/**
 * Administrators grant and withdraw the admin role. Roles are not in access tokens: every
 * request reads the account (cached briefly, and dropped everywhere on a change), so a change
 * applies to the user's live sessions at once.
 */
@Injectable()
export class UserRolesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly audit: AuditService,
    private readonly accessTokens: AccessTokenService,
  ) {}

  /** The service always keeps one admin: the last one cannot step down (409). */
  async changeRole(caller: AuthUser, userId: string, role: UserRole, request?: RequestMeta): Promise<UserDto> {
    const user = await this.dataSource.transaction(async (manager) => {
      // The admins' rows, locked: two admins demoting each other at once cannot both succeed.
      const admins = await this.users.lockAdmins(manager);
      // The caller's role was read before the locks; one withdrawn meanwhile counts from here.
      if (!admins.includes(caller.id)) throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'This action requires one of the roles: admin');
      const target = await this.users.lockActiveById(userId, manager);
      if (!target) throw new AppError(HttpStatus.NOT_FOUND, ErrorCode.USER_NOT_FOUND, 'User not found');
      if (target.role === role) return target;
      keepOneAdmin(admins, target.id, 'The last admin cannot be demoted; make another user an admin first');
      await this.users.update(userId, { role }, manager);
      const details = { role, previousRole: target.role };
      await this.audit.record({ action: 'user.role_changed', actorId: caller.id, target: { type: 'user', id: userId }, details, request }, manager);
      return { ...target, role };
    });
    this.accessTokens.forget(userId);
    return UserDto.from(user);
  }
}
