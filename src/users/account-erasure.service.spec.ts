import type { DataSource, EntityManager } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { AccountErasure, ERASURE_ORDER, type ErasureStep } from './account-erasure.service.js';
import type { UsersRepository } from './users.repository.js';

/** A database error as TypeORM reports it: the SQLSTATE on the driver's error. */
function queryFailed(code: string): Error {
  return Object.assign(new Error('query failed'), { driverError: { code } });
}

/** A data source whose transactions fail with the given errors, in turn, before they run. */
function dataSource(failures: Error[] = []): DataSource & { attempts: number } {
  const source = {
    attempts: 0,
    async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
      source.attempts++;
      const failure = failures.shift();
      if (failure) throw failure;
      return work({} as EntityManager);
    },
  };
  return source as unknown as DataSource & { attempts: number };
}

const users = { anonymise: async () => true, lockAdmins: async () => [] } as unknown as UsersRepository;

function recording(name: string, log: string[]): ErasureStep {
  return {
    erase: async () => {
      log.push(name);
      return () => log.push(`announce ${name}`);
    },
  };
}

describe('AccountErasure', () => {
  it('runs the steps in their declared order, whatever order their modules registered in', async () => {
    const log: string[] = [];
    const erasure = new AccountErasure(dataSource(), users);
    erasure.register(recording('conversations', log), ERASURE_ORDER.conversations);
    erasure.register(recording('runs', log), ERASURE_ORDER.runs);
    erasure.register(recording('messages', log), ERASURE_ORDER.messages);

    await erasure.erase('user-1');

    expect(log).toEqual(['runs', 'messages', 'conversations', 'announce runs', 'announce messages', 'announce conversations']);
  });

  it('takes every step\'s locks before the account row and before any step erases', async () => {
    const log: string[] = [];
    const locking = (name: string): ErasureStep => ({ ...recording(name, log), lock: async () => void log.push(`lock ${name}`) });
    const erasure = new AccountErasure(dataSource(), {
      anonymise: async () => log.push('anonymise') > 0,
      lockAdmins: async () => (log.push('lock admins'), ['admin-1', 'user-1']),
    } as unknown as UsersRepository);
    erasure.register(locking('conversations'), ERASURE_ORDER.conversations);
    erasure.register(recording('runs', log), ERASURE_ORDER.runs);

    await erasure.erase('user-1');

    expect(log.slice(0, 5)).toEqual(['lock conversations', 'lock admins', 'anonymise', 'runs', 'conversations']);
  });

  it.each(['40P01', '40001'])('runs the transaction again when the database aborted it with %s, announcing once', async (code) => {
    const log: string[] = [];
    const source = dataSource([queryFailed(code), queryFailed(code)]);
    const erasure = new AccountErasure(source, users);
    erasure.register(recording('runs', log), ERASURE_ORDER.runs);

    await erasure.erase('user-1');

    expect(source.attempts).toBe(3);
    expect(log).toEqual(['runs', 'announce runs']);
  });

  it('gives up after a few conflicts in a row, and at once on any other error', async () => {
    const conflicts = dataSource(Array.from({ length: 10 }, () => queryFailed('40P01')));
    await expect(new AccountErasure(conflicts, users).erase('user-1')).rejects.toThrow('query failed');
    expect(conflicts.attempts).toBe(4);

    const broken = dataSource([queryFailed('23505')]);
    await expect(new AccountErasure(broken, users).erase('user-1')).rejects.toThrow('query failed');
    expect(broken.attempts).toBe(1);
  });
});
