import { Client } from 'pg';

/**
 * Records the SQL of every statement sent to the database until `stop()`: prepared by name (on
 * PostgreSQL, see runStatement) or not — where TypeORM's `query` would miss the prepared ones.
 */
export function recordStatements(): { texts: string[]; stop(): void } {
  const original = Client.prototype.query;
  const texts: string[] = [];
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined;
    texts.push(typeof config === 'string' ? config : (config?.text ?? ''));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { texts, stop: () => void (Client.prototype.query = original) };
}
