import { HttpStatus } from '@nestjs/common';
import { AppError, ErrorCode } from '../common/errors.js';

/**
 * The service always keeps one admin. `admins` are the ids UsersRepository.lockAdmins returned in
 * the transaction of the change, so that of two changes that each see another admin remaining, the
 * second waits for the first and then sees it. Refuses (409) a change that takes `userId` away from
 * the admins when it is the last one.
 */
export function keepOneAdmin(admins: readonly string[], userId: string, refusal: string): void {
  if (admins.length <= 1 && admins.includes(userId)) throw new AppError(HttpStatus.CONFLICT, ErrorCode.CONFLICT, refusal);
}
