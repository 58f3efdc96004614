import { HttpStatus, Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import type { ActiveUser } from './user.entity.js';
import { UsersRepository } from './users.repository.js';

@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  /** The caller's own account; a deleted account is treated as gone. */
  async getActive(id: string): Promise<ActiveUser> {
    const user = await this.users.findActiveById(id);
    if (!user) throw new AppError(HttpStatus.NOT_FOUND, 'USER_NOT_FOUND', 'User not found');
    return user;
  }

  findActive(id: string): Promise<ActiveUser | null> {
    return this.users.findActiveById(id);
  }
}
