import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import { AppError, fieldError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { isUniqueViolation } from '../database/database-errors.js';
import { UserDto } from '../users/dto/user.dto.js';
import type { ActiveUser } from '../users/user.entity.js';
import { AccountErasure } from '../users/account-erasure.service.js';
import { UsersRepository } from '../users/users.repository.js';
import { UsersService } from '../users/users.service.js';
import { AccessTokenService } from './access-token.service.js';
import type { AuthResponseDto, LoginDto, RegisterDto, UpdateMeDto } from './dto/auth.dto.js';
import { LoginFailureLimit } from './login-failures.js';
import { hashOpaqueToken, newOpaqueToken } from './opaque-token.js';
import { PasswordHasher } from './password.hasher.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

function invalidCredentials(): AppError {
  return new AppError(HttpStatus.UNAUTHORIZED, 'INVALID_CREDENTIALS', 'Invalid email or password');
}

function invalidRefreshToken(): AppError {
  return new AppError(HttpStatus.UNAUTHORIZED, 'INVALID_REFRESH_TOKEN', 'Refresh token is invalid, expired or revoked');
}

/** Accounts and sessions: sign-up, sign-in, refresh-token rotation with reuse detection, sign-out. */
@Injectable()
export class AuthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly accessTokens: AccessTokenService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
    private readonly sessionRows: SessionsRepository,
    private readonly erasure: AccountErasure,
    private readonly audit: AuditService,
    private readonly loginFailures: LoginFailureLimit,
  ) {}

  async register({ email, password, displayName }: RegisterDto): Promise<AuthResponseDto> {
    if (password.toLowerCase() === email) throw fieldError('password', 'password must not be the email address');
    const passwordHash = await this.hasher.hash(password);
    let user: ActiveUser;
    try {
      user = await this.users.create({ email, displayName, passwordHash });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError(HttpStatus.CONFLICT, 'EMAIL_TAKEN', 'An account with this email already exists');
      }
      throw error;
    }
    return this.startSession(user);
  }

  /** Unknown email and wrong password cost the same and fail the same way. */
  login(credentials: LoginDto, request?: RequestMeta): Promise<AuthResponseDto> {
    return this.loginFailures.attempt(request?.ip ?? null, () => this.signIn(credentials, request));
  }

  private async signIn({ email, password }: LoginDto, request: RequestMeta | undefined): Promise<AuthResponseDto> {
    const user = await this.users.findByEmail(email);
    const valid = await this.hasher.verify(user?.passwordHash, password);
    if (!user || !valid) return this.failLogin(user?.id, request);
    try {
      return await this.startSession(user, request);
    } catch (error) {
      if (error instanceof AppError && error.code === 'INVALID_CREDENTIALS') return this.failLogin(user.id, request);
      throw error;
    }
  }

  /**
   * The email tried is not kept: people type passwords into the email field. A failure against an
   * existing account names the account (as the target), so attacks on it show up under its id.
   */
  private async failLogin(userId: string | undefined, request: RequestMeta | undefined): Promise<never> {
    await this.audit.record({
      action: 'auth.login_failed',
      actorId: null,
      target: userId === undefined ? undefined : { type: 'user', id: userId },
      details: { reason: 'invalid-credentials' },
      request,
    });
    throw invalidCredentials();
  }

  /**
   * Rotates a refresh token. A token that was already used means it leaked (or was replayed):
   * its session ends, with the token that replaced it and every access token issued for it.
   */
  async refresh(refreshToken: string): Promise<AuthResponseDto> {
    const tokenHash = hashOpaqueToken(refreshToken);
    const presented = await this.refreshTokens.findByHash(tokenHash);
    if (!presented) throw invalidRefreshToken();
    const rotated = await this.dataSource.transaction(async (manager) => {
      // Ending the session revokes the tokens it can see; a token inserted by a rotation that
      // commits meanwhile would escape it and stay live in an ended session. The session lock
      // orders the two: the end waits and then revokes the new token too, or this sees the end.
      if (!(await this.sessionRows.lockLive(presented.familyId, manager))) return undefined;
      const consumed = await this.refreshTokens.consume(tokenHash, manager);
      if (!consumed) return undefined;
      const user = await this.users.findActiveById(consumed.userId, manager);
      if (!user) return undefined;
      return { user, refreshToken: await this.issueRefreshToken(user.id, consumed.familyId, manager), familyId: consumed.familyId };
    });
    if (!rotated) {
      const known = await this.refreshTokens.findByHash(tokenHash);
      if (known?.usedAt && !known.revokedAt) await this.sessions.end(known.userId, known.familyId, 'refresh-reuse');
      throw invalidRefreshToken();
    }
    return this.respond(rotated.user, rotated.familyId, rotated.refreshToken);
  }

  /** Ends the session of the given refresh token, if it is the caller's. Always succeeds. */
  async logout(caller: AuthUser, refreshToken: string, request?: RequestMeta): Promise<void> {
    const known = await this.refreshTokens.findByHash(hashOpaqueToken(refreshToken));
    if (known && known.userId === caller.id) await this.endSessions(caller, 'logout', request, known.familyId);
  }

  /** Ends every session of the caller, the calling one included. */
  logoutAll(caller: AuthUser, request?: RequestMeta): Promise<void> {
    return this.endSessions(caller, 'logout-all', request);
  }

  /** Ends one session or all, recorded with the end; a sign-out that ended nothing is not an event. */
  private async endSessions(caller: AuthUser, reason: 'logout' | 'logout-all', request: RequestMeta | undefined, sessionId?: string): Promise<void> {
    const { announce } = await this.dataSource.transaction(async (manager) => {
      const revocation = await this.sessions.endWithin(manager, caller.id, reason, sessionId);
      if (!revocation.sessionIds.length) return revocation;
      await this.audit.record(
        {
          action: reason === 'logout' ? 'auth.logout' : 'auth.logout_all',
          actorId: caller.id,
          target: sessionId === undefined ? { type: 'user', id: caller.id } : { type: 'session', id: sessionId },
          details: { sessionsEnded: revocation.sessionIds.length },
          request,
        },
        manager,
      );
      return revocation;
    });
    announce();
  }

  async me(caller: AuthUser): Promise<UserDto> {
    return UserDto.from(await this.usersService.getActive(caller.id));
  }

  /** A new password needs the current one and signs out every other session. */
  async updateMe(caller: AuthUser, { displayName, currentPassword, newPassword }: UpdateMeDto, request?: RequestMeta): Promise<UserDto> {
    const user = await this.usersService.getActive(caller.id);
    const passwordHash = newPassword === undefined ? undefined : await this.newPasswordHash(user, currentPassword, newPassword);
    // The new password and the end of the other sessions commit together: never the one without the other.
    const announce = await this.dataSource.transaction(async (manager) => {
      if (displayName !== undefined) await this.users.update(user.id, { displayName }, manager);
      if (passwordHash === undefined) return undefined;
      // Checked against the hash read above: a change that committed meanwhile makes this one fail.
      if (!(await this.users.changePassword(user.id, user.passwordHash, passwordHash, manager))) {
        throw fieldError('currentPassword', 'currentPassword is incorrect');
      }
      await this.audit.record({ action: 'auth.password_changed', actorId: user.id, target: { type: 'user', id: user.id }, request }, manager);
      return this.sessions.endAllWithin(manager, user.id, 'password-changed', caller.sessionId);
    });
    announce?.();
    this.accessTokens.forget(user.id);
    return UserDto.from(await this.usersService.getActive(caller.id));
  }

  private async newPasswordHash(user: ActiveUser, currentPassword: string | undefined, newPassword: string): Promise<string> {
    if (currentPassword === undefined) {
      throw fieldError('currentPassword', 'currentPassword is required to set a new password');
    }
    if (!(await this.hasher.verify(user.passwordHash, currentPassword))) {
      throw fieldError('currentPassword', 'currentPassword is incorrect');
    }
    if (newPassword.toLowerCase() === user.email) {
      throw fieldError('newPassword', 'newPassword must not be the email address');
    }
    return this.hasher.hash(newPassword);
  }

  /** Ends every session, then erases the account (AccountErasure says what that covers). */
  async deleteMe(caller: AuthUser, request?: RequestMeta): Promise<void> {
    // The last admin is refused before the sessions end, not after.
    await this.erasure.checkErasable(caller.id);
    // Sessions first: nothing the account's clients do can race the erasure.
    await this.sessions.endAll(caller.id, 'account-deleted');
    await this.erasure.erase(caller.id, async (manager) => {
      await this.audit.record({ action: 'account.deleted', actorId: caller.id, target: { type: 'user', id: caller.id }, request }, manager);
      // This event's included: the trail keeps what the account did, not where it did it from.
      await this.audit.forgetAddresses(caller.id, manager);
    });
    // A sign-in between the two got a session; none can start after the erasure (startSession).
    await this.sessions.endAll(caller.id, 'account-deleted');
    this.accessTokens.forget(caller.id);
  }

  /** `signIn`: a sign-in to record (a registration starts a session too, but is not one). */
  private async startSession(user: ActiveUser, signIn?: RequestMeta): Promise<AuthResponseDto> {
    const { sessionId, refreshToken } = await this.dataSource.transaction(async (manager) => {
      // The account was read before the password check; it may have been deleted, or its password
      // changed (ending every other session), since.
      if (!(await this.users.lockActive(user.id, user.passwordHash, manager))) throw invalidCredentials();
      const id = await this.sessions.start(user.id, manager);
      if (signIn) await this.audit.record({ action: 'auth.login', actorId: user.id, target: { type: 'session', id }, request: signIn }, manager);
      return { sessionId: id, refreshToken: await this.issueRefreshToken(user.id, id, manager) };
    });
    return this.respond(user, sessionId, refreshToken);
  }

  private async respond(user: ActiveUser, familyId: string, refreshToken: string): Promise<AuthResponseDto> {
    const { accessToken, expiresIn } = await this.accessTokens.issue(user, familyId);
    return { user: UserDto.from(user), accessToken, refreshToken, expiresIn };
  }

  private async issueRefreshToken(userId: string, familyId: string, manager?: EntityManager): Promise<string> {
    const token = newOpaqueToken();
    const expiresAt = new Date(Date.now() + this.config.auth.refreshTtlSeconds * 1000);
    await this.refreshTokens.insert({ userId, familyId, tokenHash: hashOpaqueToken(token), expiresAt }, manager);
    return token;
  }
}
