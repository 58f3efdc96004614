import { ApiProperty } from '@nestjs/swagger';
import { type ActiveUser, USER_ROLES, type UserRole } from '../user.entity.js';

/** A user as clients see it: never the password hash or internal columns. */
export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ada@example.com' })
  email!: string;

  @ApiProperty({ example: 'Ada Lovelace' })
  displayName!: string;

  @ApiProperty({ enum: USER_ROLES })
  role!: UserRole;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static from(user: ActiveUser): UserDto {
    return {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      role: user.role,
      createdAt: user.createdAt.toISOString(),
    };
  }
}
