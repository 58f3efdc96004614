import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthUser } from '../common/auth/auth-user.js';
import { type AccessTokenClaims, AccessTokenService } from './access-token.service.js';

/**
 * HTTP and the Socket.IO handshake authenticate alike: the signature is checked against
 * AccessTokenService.verification (one options object, key included), and everything after it —
 * session, account, the account cache — is AccessTokenService.userFromClaims, which the
 * handshake's `authenticate` ends in too. passport-jwt stays the HTTP strategy rather than a guard
 * of our own calling `authenticate`: it is the JWT strategy behind Nest's AuthGuard (the global
 * guard with its `@Public()` opt-out), and all it does here is take the bearer token from the
 * header and run the same jsonwebtoken check with the same options.
 *
 * Passport keeps strategies in a process-wide registry, so one application runs per process
 * (tests start further instances as separate processes or one after another).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(private readonly accessTokens: AccessTokenService) {
    const { secret, ...verifyOptions } = accessTokens.verification;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: secret,
      // passport-jwt overwrites these four of jsonWebTokenOptions with its own options of the same names.
      jsonWebTokenOptions: verifyOptions,
      algorithms: [...verifyOptions.algorithms],
      issuer: verifyOptions.issuer,
      audience: verifyOptions.audience,
      ignoreExpiration: false,
    });
  }

  validate(claims: AccessTokenClaims): Promise<AuthUser> {
    return this.accessTokens.userFromClaims(claims);
  }
}
