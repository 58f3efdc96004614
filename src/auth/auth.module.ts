import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config.js';
import { AuditModule } from '../audit/audit.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccessTokenService, jwtOptions } from './access-token.service.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminBootstrap } from './admin-bootstrap.service.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import { LoginFailureLimit } from './login-failures.js';
import { PasswordHasher } from './password.hasher.js';
import { authRateLimits } from './rate-limit.guard.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { RolesGuard } from './roles.guard.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { StreamTicketsRepository } from './stream-tickets.repository.js';
import { StreamTicketsService } from './stream-tickets.service.js';
import { UserRolesService } from './user-roles.service.js';

@Module({
  imports: [
    UsersModule,
    AuditModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => jwtOptions(config.auth),
    }),
    ThrottlerModule.forRootAsync({ inject: [AppConfig], useFactory: authRateLimits }),
  ],
  controllers: [AuthController, AdminUsersController],
  providers: [
    AuthService,
    AccessTokenService,
    PasswordHasher,
    RefreshTokensRepository,
    SessionsRepository,
    SessionsService,
    StreamTicketsRepository,
    StreamTicketsService,
    LoginFailureLimit,
    AdminBootstrap,
    UserRolesService,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [AccessTokenService],
})
export class AuthModule {}
