import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In, IsNull, type Repository } from 'typeorm';
import { type UserRole, UserEntity } from './user.entity.js';

/** Every query on users. */
@Injectable()
export class UsersRepository {
  private readonly users: Repository<UserEntity>;

  constructor(dataSource: DataSource) {
    this.users = dataSource.getRepository(UserEntity);
  }

  findActiveById(id: string, manager?: EntityManager): Promise<UserEntity | null> {
    return (manager?.getRepository(UserEntity) ?? this.users).findOneBy({ id, deletedAt: IsNull() });
  }

  /** Those of the given ids that belong to existing, not deleted, users. */
  async findActiveIds(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const users = await this.users.find({ select: { id: true }, where: { id: In(ids), deletedAt: IsNull() } });
    return new Set(users.map((user) => user.id));
  }

  /** Display names by id (repeats and nulls ignored), deleted accounts included (they read "Deleted user"). */
  async findDisplayNames(authorIds: Iterable<string | null>): Promise<Map<string, string>> {
    const ids = [...new Set(authorIds)].filter((id): id is string => id !== null);
    if (!ids.length) return new Map();
    const users = await this.users.find({ select: { id: true, displayName: true }, where: { id: In(ids) } });
    return new Map(users.map((user) => [user.id, user.displayName]));
  }

  /** `email` must already be normalised (trimmed, lower case). */
  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ email });
  }

  /** Throws a unique violation (23505) when the email is taken. */
  create(fields: { email: string; displayName: string; passwordHash: string; role?: UserRole }): Promise<UserEntity> {
    return this.users.save(this.users.create({ role: 'user', ...fields }));
  }

  async update(id: string, fields: Partial<Pick<UserEntity, 'displayName' | 'passwordHash' | 'role'>>): Promise<void> {
    await this.users.update({ id }, fields);
  }

  /**
   * Erases personal data but keeps the row, so messages in shared conversations stay attributed
   * to "Deleted user". The email is replaced by a unique placeholder that can never sign in.
   */
  async anonymise(id: string, manager?: EntityManager): Promise<void> {
    await (manager?.getRepository(UserEntity) ?? this.users).update(
      { id },
      { email: `deleted-${id}@deleted.invalid`, displayName: 'Deleted user', passwordHash: null, deletedAt: new Date() },
    );
  }
}
