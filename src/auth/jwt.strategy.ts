import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthUser } from '../common/auth/auth-user.js';
import { type AccessTokenClaims, AccessTokenService } from './access-token.service.js';

/**
 * passport-jwt verifies the bearer token with the pinned options; we then load the user.
 * Passport keeps strategies in a process-wide registry, so one application runs per process
 * (tests start further instances as separate processes or one after another).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(private readonly accessTokens: AccessTokenService) {
    const { secret, algorithms, issuer, audience } = accessTokens.verification;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // jsonwebtoken takes the KeyObject as is; passport-jwt's typings only list string | Buffer.
      secretOrKey: secret as unknown as Buffer,
      algorithms: [...algorithms],
      issuer,
      audience,
      ignoreExpiration: false,
    });
  }

  validate(claims: AccessTokenClaims): Promise<AuthUser> {
    return this.accessTokens.userFromClaims(claims);
  }
}
