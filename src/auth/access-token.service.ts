import { createSecretKey, randomUUID } from 'node:crypto';
import { HttpStatus, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { JwtService, type JwtModuleOptions } from '@nestjs/jwt';
import { ExtractJwt } from 'passport-jwt';
import type { AuthUser } from '../common/auth/auth-user.js';
import { TtlCache } from '../common/cache/ttl-cache.js';
import { AppError, ErrorCode } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import type { AuthSettings } from '../config/auth.config.js';
import type { UserEntity } from '../users/user.entity.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { UsersService } from '../users/users.service.js';
import { SessionsService } from './sessions.service.js';

/**
 * Accounts looked up for tokens are kept this long, so a request does not pay a query for it.
 * Changes and deletions evict them at once on every instance (through the realtime bus).
 */
const USER_CACHE_TTL_MS = 5000;
const USER_CACHE_MAX = 10_000;
/**
 * Tokens whose signature was checked, kept until they expire: a client presents the same token
 * on every request and handshake until it refreshes it, and checking it again (decode, HMAC,
 * claims) was the largest part of an authenticated request's CPU. Only verified tokens get in,
 * so nobody can fill it with garbage; session and account are still checked on every use.
 */
const VERIFIED_TOKENS_MAX = 10_000;

type Account = Omit<AuthUser, 'sessionId' | 'expiresAt'>;

/** The only algorithm accepted; pinned so a token cannot choose its own (`alg: none`, RS/HS confusion). */
const JWT_ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  sub: string;
  /** Session (refresh-token family) id. */
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

/** Signing and verifying options, pinned once for the JwtService and the passport-jwt strategy. */
export function jwtOptions(auth: AuthSettings) {
  const { jwtSecret, jwtIssuer, jwtAudience, accessTtlSeconds } = auth;
  return {
    // A KeyObject made once: given a string, jsonwebtoken first tries to parse it as a PEM public
    // key on every call and builds the secret key only after that throws (a third of the CPU of
    // an authenticated request).
    secret: createSecretKey(Buffer.from(jwtSecret)),
    signOptions: { algorithm: JWT_ALGORITHM, issuer: jwtIssuer, audience: jwtAudience, expiresIn: accessTtlSeconds },
    verifyOptions: { algorithms: [JWT_ALGORITHM], issuer: jwtIssuer, audience: jwtAudience },
  } satisfies JwtModuleOptions;
}

function verificationOptions(auth: AuthSettings) {
  const { secret, verifyOptions } = jwtOptions(auth);
  // jsonwebtoken takes the KeyObject as is; the typings of @nestjs/jwt only list string | Buffer.
  return Object.freeze({ ...verifyOptions, secret: secret as unknown as Buffer });
}

/** The token of an `Authorization: Bearer …` header, as passport-jwt reads it; undefined without one. */
export const bearerToken: (request: { headers: Record<string, string | string[] | undefined> }) => string | undefined = (() => {
  const extract = ExtractJwt.fromAuthHeaderAsBearerToken();
  return (request) => extract(request as never) ?? undefined;
})();

export function unauthorized(message = 'Missing, invalid or expired access token'): AppError {
  return new AppError(HttpStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, message);
}

function sessionRevoked(reason: string): AppError {
  return new AppError(HttpStatus.UNAUTHORIZED, 'SESSION_REVOKED', 'The session has ended; sign in again', { reason });
}

/** A malformed id is an invalid token; anything else (database down) is not the caller's fault. */
function invalidIdAsUnauthorized(error: unknown): never {
  if ((error as { code?: string }).code === '22P02') throw unauthorized();
  throw error;
}

/**
 * Issues and checks access tokens. `authenticate` turns the Socket.IO handshake's token (and
 * POST /chat's, checked before its large body is read) into the current user; HTTP gets there
 * through the passport-jwt strategy (see JwtStrategy), with the same verification options and the
 * same `userFromClaims`.
 */
@Injectable()
export class AccessTokenService implements OnModuleInit, OnModuleDestroy {
  /** A lookup that started before a change of the account is not kept (see TtlCache). */
  private readonly accounts = new TtlCache<string, Account>({ ttlMs: USER_CACHE_TTL_MS, maxEntries: USER_CACHE_MAX });
  private readonly verified = new Map<string, AccessTokenClaims>();
  private subscription: Subscription | undefined;
  /** How every access token is verified, made once. */
  readonly verification: ReturnType<typeof verificationOptions>;

  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly bus: RealtimeBus,
    private readonly sessions: SessionsService,
  ) {
    this.verification = verificationOptions(config.auth);
  }

  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is Extract<typeof event, { type: 'user.changed' }> => event.type === 'user.changed'))
      .subscribe((event) => this.accounts.invalidate(event.userId));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** Drops the cached account here and on every other instance (after a change or deletion). */
  forget(userId: string): void {
    this.accounts.invalidate(userId);
    this.bus.publish({ type: 'user.changed', userId });
  }

  async issue(user: Pick<UserEntity, 'id'>, sessionId: string): Promise<{ accessToken: string; expiresIn: number }> {
    // Algorithm, issuer, audience, lifetime and key are the module's (jwtOptions).
    const accessToken = await this.jwt.signAsync({ sid: sessionId }, { subject: user.id, jwtid: randomUUID() });
    return { accessToken, expiresIn: this.config.auth.accessTtlSeconds };
  }

  /**
   * Verifies signature, algorithm, issuer, audience and expiry (`verification`), once per token
   * (see VERIFIED_TOKENS_MAX); expiry again on every use, by jsonwebtoken's rule. Throws 401.
   */
  private verify(token: string): AccessTokenClaims {
    const known = this.verified.get(token);
    if (known) {
      if (Math.floor(Date.now() / 1000) < known.exp) return known;
      this.verified.delete(token);
      throw unauthorized();
    }
    let claims: AccessTokenClaims;
    try {
      claims = this.jwt.verify<AccessTokenClaims>(token, this.verification);
    } catch {
      throw unauthorized();
    }
    // Without `exp` a token is refused later (userFromClaims), and never kept.
    if (typeof claims.exp === 'number') {
      if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
    }
    return claims;
  }

  /**
   * The user a verified token speaks for. The token must expire (jsonwebtoken accepts one without
   * `exp`) and name a live session of its subject; a deleted account fails at once.
   */
  async userFromClaims(claims: Partial<AccessTokenClaims>): Promise<AuthUser> {
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number') throw unauthorized();
    const session = await this.sessions.state(claims.sub, claims.sid).catch(invalidIdAsUnauthorized);
    if (session.status === 'ended') throw sessionRevoked(session.reason);
    if (session.status === 'unknown') throw unauthorized();
    const account = await this.accounts.getOrLoad(claims.sub, (id) => this.loadAccount(id));
    if (!account) throw unauthorized();
    return { ...account, sessionId: claims.sid, expiresAt: claims.exp * 1000 };
  }

  private async loadAccount(id: string): Promise<Account | undefined> {
    const user = await this.users.findActive(id).catch(invalidIdAsUnauthorized);
    return user ? { id: user.id, email: user.email, displayName: user.displayName, role: user.role } : undefined;
  }

  async authenticate(token: string): Promise<AuthUser> {
    return this.userFromClaims(this.verify(token));
  }
}
