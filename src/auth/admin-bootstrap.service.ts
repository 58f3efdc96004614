import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { isUniqueViolation } from '../database/database-errors.js';
import { UsersRepository } from '../users/users.repository.js';
import { normaliseEmail } from './dto/auth.dto.js';
import { PasswordHasher } from './password.hasher.js';

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD: creates that admin at start-up, or promotes an existing account
 * with that email — only if ADMIN_PASSWORD is its password, since anyone may have registered the
 * address first. Idempotent; an existing account keeps its password.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger('AdminBootstrap');

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { adminEmail, adminPassword } = this.config.auth;
    if (!adminEmail || !adminPassword) return;
    const email = normaliseEmail(adminEmail);
    const existing = await this.users.findByEmail(email);
    if (existing) {
      if (existing.role === 'admin') return;
      if (!(await this.hasher.verify(existing.passwordHash, adminPassword))) {
        this.logger.warn(
          'ADMIN_EMAIL belongs to an existing account whose password is not ADMIN_PASSWORD: it was not made an admin. ' +
            'Set that password on the account, or choose another ADMIN_EMAIL.',
        );
        return;
      }
      await this.users.update(existing.id, { role: 'admin' });
      this.logger.log('Promoted the configured account to admin');
      return;
    }
    try {
      await this.users.create({ email, displayName: 'Administrator', passwordHash: await this.hasher.hash(adminPassword), role: 'admin' });
      this.logger.log('Created the configured admin account');
    } catch (error) {
      // Another instance starting at the same time created it first.
      if (!isUniqueViolation(error)) throw error;
    }
  }
}
