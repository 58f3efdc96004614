import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { isUniqueViolation } from '../database/database-errors.js';
import { UsersRepository } from '../users/users.repository.js';
import { normaliseEmail } from './dto/auth.dto.js';
import { PasswordHasher } from './password.hasher.js';

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD: creates that admin at start-up if no account has the email. An
 * existing account is left as it is, role and password: roles are changed by admins, with a record
 * in the audit trail, and a restart must not undo a demotion (nor promote whoever registered the
 * address first).
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
      this.logger.log(`The ADMIN_EMAIL account exists, with the role ${existing.role}; left as it is (admins change roles)`);
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
