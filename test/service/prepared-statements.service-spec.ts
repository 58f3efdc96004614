import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRefusedStatement } from '../../src/database/database-errors.js';
import { runStatement, type Statement } from '../../src/database/prepared-statements.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

const TITLE: Statement = { name: 'test.title', text: `SELECT title FROM conversations WHERE id = $1` };

/**
 * Statements of the hot paths run by name, prepared once per connection (on the embedded database
 * too), or as ordinary queries when switched off. Either way they answer alike, inside the
 * caller's transaction, with TypeORM's errors.
 */
describe('runStatement', () => {
  let app: ServiceApp;
  let dataSource: DataSource & { preparesStatements: boolean };
  let conversation: string;

  beforeAll(async () => {
    app = await startServiceApp();
    dataSource = app.get(DataSource) as typeof dataSource;
    conversation = (await app.conversation(await app.user(), { mode: 'off' })).id;
  });
  afterAll(() => app?.close());

  const preparedHere = async (manager: { query: DataSource['query'] }) =>
    // By its text: the embedded database's wire server gives each connection's statements names of its own.
    ((await manager.query(`SELECT name FROM pg_prepared_statements WHERE statement = $1`, [TITLE.text])) as unknown[]).length > 0;

  it('prepares by name unless switched off, and answers the same rows either way', async () => {
    expect(dataSource.preparesStatements).toBe(true);
    // Switched off first: no connection has the statement yet.
    for (const prepares of [false, true]) {
      dataSource.preparesStatements = prepares;
      try {
        await dataSource.transaction(async (manager) => {
          for (let i = 0; i < 3; i++) expect(await runStatement(manager, TITLE, [conversation])).toEqual([{ title: 'service test' }]);
          expect(await preparedHere(manager)).toBe(prepares);
        });
        expect(await runStatement(dataSource, TITLE, [conversation])).toEqual([{ title: 'service test' }]);
        expect(await runStatement(dataSource, TITLE, [randomUUID()])).toEqual([]);
      } finally {
        dataSource.preparesStatements = true;
      }
    }
  });

  it("runs in the caller's transaction: sees its writes, and nothing stays after a rollback", async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await manager.query(`UPDATE conversations SET title = 'renamed' WHERE id = $1`, [conversation]);
        expect(await runStatement(manager, TITLE, [conversation])).toEqual([{ title: 'renamed' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await runStatement(dataSource, TITLE, [conversation])).toEqual([{ title: 'service test' }]);
  });

  it("refuses a transaction's manager used after the transaction ended, as TypeORM's query() does", async () => {
    let kept: EntityManager | undefined;
    await dataSource.transaction(async (manager) => {
      kept = manager;
    });
    await expect(runStatement(kept!, TITLE, [conversation])).rejects.toBeInstanceOf(QueryRunnerAlreadyReleasedError);
  });

  it("fails with TypeORM's QueryFailedError and the database's SQLSTATE, and the connection serves on", async () => {
    for (let i = 0; i < 12; i++) {
      const failure = await runStatement(dataSource, TITLE, ['not a uuid']).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(QueryFailedError);
      expect((failure as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('22P02');
      expect(isRefusedStatement(failure)).toBe(true);
    }
    expect(await runStatement(dataSource, TITLE, [conversation])).toEqual([{ title: 'service test' }]);
  });
});
