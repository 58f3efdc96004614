import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';

export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

@Entity('users')
@Unique('users_email_key', ['email'])
@Check('users_role_check', `"role" IN ('user', 'admin')`)
export class UserEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'users_pkey' })
  id!: string;

  /** Stored trimmed and lower-cased, so uniqueness is case-insensitive. Null once the account is deleted. */
  @Column({ type: 'varchar', length: 254, nullable: true })
  email!: string | null;

  @Column({ name: 'display_name', type: 'varchar', length: 80 })
  displayName!: string;

  /** Null once the account is deleted. */
  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash!: string | null;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role!: UserRole;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}

/** An account that is not deleted: only deleted accounts lack an email and a password. */
export type ActiveUser = UserEntity & { email: string; passwordHash: string; deletedAt: null };

/** What a deleted account is shown as, wherever its messages stay. */
export const DELETED_USER_NAME = 'Deleted user';
