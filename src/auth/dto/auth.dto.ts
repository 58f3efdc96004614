import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsNotEmpty, IsString, Length, MaxLength } from 'class-validator';
import { Omittable } from '../../common/decorators/omittable.decorator.js';
import { trimmed } from '../../common/dto/transforms.js';
import { UserDto } from '../../users/dto/user.dto.js';

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const DISPLAY_NAME_MAX = 80;

const normalisedEmail = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

/** Emails are compared trimmed and lower-cased, so uniqueness does not depend on case. */
export function normaliseEmail(value: unknown): string {
  return typeof value === 'string' ? value.trim().toLowerCase() : '';
}

export class RegisterDto {
  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @Transform(normalisedEmail)
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @IsString()
  @Length(PASSWORD_MIN, PASSWORD_MAX)
  password!: string;

  @ApiProperty({ example: 'Ada Lovelace', minLength: 1, maxLength: DISPLAY_NAME_MAX })
  @Transform(trimmed)
  @IsString()
  @Length(1, DISPLAY_NAME_MAX)
  displayName!: string;
}

export class LoginDto {
  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @Transform(normalisedEmail)
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 1, maxLength: PASSWORD_MAX })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX)
  password!: string;
}

export class RefreshDto {
  @ApiProperty({
    minLength: 20,
    maxLength: 256,
    example: 'm9Zk3Qx7Vt2Lr8Wc5Ny1Hb6Fj4Pd0Sg3Ka7Ue2Io9Ty',
    description: 'The refresh token from the last sign-in or refresh',
  })
  @IsString()
  @Length(20, 256)
  refreshToken!: string;
}

export class UpdateMeDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: DISPLAY_NAME_MAX, example: 'Ada King' })
  @Omittable()
  @Transform(trimmed)
  @IsString()
  @Length(1, DISPLAY_NAME_MAX)
  displayName?: string;

  @ApiPropertyOptional({ maxLength: PASSWORD_MAX, example: 'correct horse battery staple', description: 'Required to set a new password' })
  @Omittable()
  @IsString()
  @MaxLength(PASSWORD_MAX)
  currentPassword?: string;

  @ApiPropertyOptional({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, example: 'a longer and newer passphrase' })
  @Omittable()
  @IsString()
  @Length(PASSWORD_MIN, PASSWORD_MAX)
  newPassword?: string;
}

export class AuthResponseDto {
  @ApiProperty({ type: UserDto })
  user!: UserDto;

  @ApiProperty({ description: 'JWT for the Authorization: Bearer header and the Socket.IO handshake' })
  accessToken!: string;

  @ApiProperty({ description: 'Opaque, single-use; exchange it at /auth/refresh for a new pair' })
  refreshToken!: string;

  @ApiProperty({ type: 'integer', example: 900, description: 'Access token lifetime in seconds' })
  expiresIn!: number;
}
