import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In, IsNull, type Repository } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';
import { type ActiveUser, DELETED_USER_NAME, type UserRole, UserEntity } from './user.entity.js';

/** Every query on users. */
@Injectable()
export class UsersRepository {
  private readonly users: Repository<UserEntity>;

  constructor(dataSource: DataSource) {
    this.users = dataSource.getRepository(UserEntity);
  }

  findActiveById(id: string, manager?: EntityManager): Promise<ActiveUser | null> {
    return (manager?.getRepository(UserEntity) ?? this.users).findOneBy({ id, deletedAt: IsNull() }) as Promise<ActiveUser | null>;
  }

  /**
   * Whether the account exists, is not deleted and still has the given password hash, holding a
   * share lock on its row until the transaction ends: its deletion (anonymise) or a change of
   * password waits for the transaction, or this sees the deletion or the change.
   */
  async lockActive(id: string, passwordHash: string, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL AND password_hash = $2 FOR SHARE`,
      [id, passwordHash],
    );
    return rows.length > 0;
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
  findByEmail(email: string): Promise<ActiveUser | null> {
    return this.users.findOneBy({ email, deletedAt: IsNull() }) as Promise<ActiveUser | null>;
  }

  /** Throws a unique violation (23505) when the email is taken. */
  create(fields: { email: string; displayName: string; passwordHash: string; role?: UserRole }): Promise<ActiveUser> {
    return this.users.save(this.users.create({ role: 'user', ...fields })) as Promise<ActiveUser>;
  }

  /** Changes an account that is not deleted (a change racing the erasure must not bring data back). */
  /**
   * Sets a new password only if the stored one is still the one the caller proved to know: of two
   * changes checked against the same old password, one wins. False for the other (or a deleted account).
   */
  async changePassword(id: string, from: string, to: string, manager: EntityManager): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await manager.query(
        `UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND deleted_at IS NULL AND password_hash = $2 RETURNING 1`,
        [id, from, to],
      ),
    );
    return rows.length > 0;
  }

  async update(id: string, fields: Partial<Pick<UserEntity, 'displayName' | 'role'>>, manager?: EntityManager): Promise<void> {
    if (Object.keys(fields).length) await (manager?.getRepository(UserEntity) ?? this.users).update({ id, deletedAt: IsNull() }, fields);
  }

  /**
   * Locks the rows of every active admin (in id order, so two callers lock alike) and returns
   * their ids: a role change or an erasure that checks "another admin remains" holds them until it
   * commits (see keepOneAdmin). NO KEY UPDATE: rows that merely refer to an admin (their messages,
   * sessions) are still written meanwhile, since their foreign key checks take only a key share.
   */
  async lockAdmins(manager: EntityManager): Promise<string[]> {
    const rows = rowsOf<{ id: string }>(
      await manager.query(`SELECT id FROM users WHERE role = 'admin' AND deleted_at IS NULL ORDER BY id FOR NO KEY UPDATE`),
    );
    return rows.map((row) => row.id);
  }

  /** Locks an active account's row and returns it (null if there is none). */
  async lockActiveById(id: string, manager: EntityManager): Promise<ActiveUser | null> {
    return (await manager.getRepository(UserEntity).findOne({ where: { id, deletedAt: IsNull() }, lock: { mode: 'pessimistic_write' } })) as ActiveUser | null;
  }

  /**
   * Keeps of the account only what references to it need: the id (messages in shared
   * conversations stay attributed to a deleted user) and its timestamps. The email goes entirely
   * (NULL), so no registration can block this. False if the account was already deleted.
   */
  async anonymise(id: string, manager: EntityManager): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await manager.query(
        `UPDATE users SET email = NULL, display_name = $2, password_hash = NULL, role = 'user', deleted_at = now(), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING 1`,
        [id, DELETED_USER_NAME],
      ),
    );
    return rows.length > 0;
  }
}
