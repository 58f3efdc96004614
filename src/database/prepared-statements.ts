import { type DataSource, type EntityManager, InstanceChecker, QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { rowsOf } from './query-rows.js';

/** A statement of a hot path, run by name (see runStatement). */
export interface Statement {
  /** Unique per text: a connection refuses one name for two texts. */
  readonly name: string;
  readonly text: string;
}

/** What a DataSource says about itself (AppDataSource; not imported: the client package compiles users of this without the migrations). */
interface PreparingDataSource {
  /** True when statements may be prepared by name on its connections (see runStatement). */
  preparesStatements?: boolean;
}

interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs `statement` with `parameters`, in `executor`'s transaction when it has one, and returns
 * its rows. Where the data source allows it, as a prepared statement named once per connection:
 * PostgreSQL then parses and plans the long statements of the hot paths once per connection
 * instead of on every call (a send that starts a run spent 2.3 ms parsing and 1 ms planning its
 * statement, as long as executing it). Otherwise (DATABASE_PREPARED_STATEMENTS=false, for a pooler in
 * transaction mode) as an ordinary query. The embedded database prepares them too: its wire
 * server keeps each connection's names apart in the one session they share. Errors are TypeORM's QueryFailedError
 * either way.
 */
export async function runStatement<T>(executor: DataSource | EntityManager, statement: Statement, parameters: unknown[]): Promise<T[]> {
  const manager = InstanceChecker.isDataSource(executor) ? undefined : executor;
  const dataSource = manager ? manager.dataSource : (executor as DataSource);
  if (!(dataSource as PreparingDataSource).preparesStatements) return rowsOf<T>(await executor.query(statement.text, parameters));
  // As TypeORM's query(): a transaction's manager used after it ended would run on a connection someone else holds now.
  if (manager?.queryRunner?.isReleased) throw new QueryRunnerAlreadyReleasedError();
  const runner = manager?.queryRunner ?? dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as PgClient;
    const result = await client.query({ name: statement.name, text: statement.text, values: parameters });
    return result.rows as T[];
  } catch (error) {
    throw error instanceof QueryFailedError ? error : new QueryFailedError(statement.text, parameters, error as Error);
  } finally {
    if (runner !== manager?.queryRunner) await runner.release();
  }
}
