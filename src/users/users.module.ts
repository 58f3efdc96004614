import { Module } from '@nestjs/common';
import { AccountErasure } from './account-erasure.service.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [UsersRepository, UsersService, AccountErasure],
  exports: [UsersRepository, UsersService, AccountErasure],
})
export class UsersModule {}
