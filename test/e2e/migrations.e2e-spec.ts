import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseSettings } from '../../src/config/database.config.js';
import { AppDataSource } from '../../src/database/data-source.factory.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const BASE_TABLES = ['agent_runs', 'analytics_days', 'approvals', 'audit_events', 'conversation_participants', 'conversations', 'document_chunks', 'document_contents', 'documents', 'message_feedback', 'messages', 'refresh_tokens', 'sessions', 'stream_tickets', 'tool_invocations', 'users'];
/** Only where the server has pgvector (PGlite does; a PostgreSQL without it keeps full-text search alone). */
const VECTOR_TABLES = ['document_chunk_embeddings'];
let TABLES = BASE_TABLES;

async function tables(dataSource: AppDataSource): Promise<string[]> {
  const rows: { table_name: string }[] = await dataSource.query(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_name NOT IN ('migrations', 'typeorm_metadata') ORDER BY 1`,
  );
  return rows.map((row) => row.table_name);
}

async function pendingSchemaChanges(dataSource: AppDataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((query) => query.query);
}

describe('migrations', () => {
  let database: TestDatabase;
  let dataSource: AppDataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await AppDataSource.create({
      settings: parseDatabaseSettings({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '3' }),
      embeddedDataDir: undefined,
    });
    await dataSource.initialize();
    await dataSource.migrate();
    const [vector] = await dataSource.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`);
    if (vector) TABLES = [...BASE_TABLES, ...VECTOR_TABLES].sort();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('create the whole data model', async () => {
    expect(await tables(dataSource)).toEqual(TABLES);
  });

  it('match the entities exactly (no drift for migration:generate to find)', async () => {
    expect(await pendingSchemaChanges(dataSource)).toEqual([]);
  });

  it('create the indexes the queries rely on', async () => {
    const rows: { indexname: string; indexdef: string }[] = await dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()`,
    );
    const definition = (name: string) => rows.find((row) => row.indexname === name)?.indexdef;
    expect(definition('messages_conversation_id_seq_key')).toMatch(/UNIQUE INDEX .* \(conversation_id, seq\)/);
    expect(definition('messages_client_message_id_key')).toMatch(/UNIQUE INDEX .*WHERE \(client_message_id IS NOT NULL\)/);
    expect(definition('messages_search_vector_idx')).toMatch(/USING gin \(search_vector\)/);
    expect(definition('conversations_last_activity_idx')).toMatch(/\(last_activity_at, id\)/);
    expect(definition('agent_runs_active_idx')).toMatch(/WHERE/);
  });

  it('keep seq unique per conversation and generate the search vector', async () => {
    const [user] = await dataSource.query(
      `INSERT INTO users (email, display_name) VALUES ('m@example.com', 'M') RETURNING id`,
    );
    const [conversation] = await dataSource.query(`INSERT INTO conversations (owner_id) VALUES ($1) RETURNING id`, [user.id]);
    const insert = (seq: number, content: string) =>
      dataSource.query(`INSERT INTO messages (conversation_id, seq, role, author_id, content) VALUES ($1, $2, 'user', $3, $4)`, [
        conversation.id,
        seq,
        user.id,
        content,
      ]);
    await insert(1, 'The foxes were jumping');
    await expect(insert(1, 'duplicate seq')).rejects.toThrow(/messages_conversation_id_seq_key/);
    const [hit] = await dataSource.query(
      `SELECT seq FROM messages WHERE search_vector @@ websearch_to_tsquery('english', 'fox jumps')`,
    );
    expect(hit).toEqual({ seq: 1 });
  });

  it('turn every refresh-token family into a session, ended when all its tokens were revoked', async () => {
    while ((await tables(dataSource)).includes('sessions')) await dataSource.undoLastMigration({ transaction: 'each' });
    const [user] = await dataSource.query(`INSERT INTO users (email, display_name) VALUES ('s@example.com', 'S') RETURNING id`);
    const token = (family: string, hash: string, revoked: boolean) =>
      dataSource.query(
        `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, revoked_at) VALUES ($1, $2, $3, now() + interval '1 day', $4)`,
        [user.id, family, hash, revoked ? new Date() : null],
      );
    const live = '00000000-0000-4000-8000-000000000001';
    const ended = '00000000-0000-4000-8000-000000000002';
    await token(live, 'a', false);
    await token(live, 'b', true);
    await token(ended, 'c', true);
    await dataSource.migrate();
    const sessions: { id: string; user_id: string; revoked: boolean; revoked_reason: string | null }[] = await dataSource.query(
      `SELECT id, user_id, revoked_at IS NOT NULL AS revoked, revoked_reason FROM sessions ORDER BY id`,
    );
    expect(sessions).toEqual([
      { id: live, user_id: user.id, revoked: false, revoked_reason: null },
      { id: ended, user_id: user.id, revoked: true, revoked_reason: 'revoked' },
    ]);
    await expect(token('00000000-0000-4000-8000-000000000003', 'd', false)).rejects.toThrow(/refresh_tokens_family_id_fkey/);
  });

  it('leave accounts deleted before erasure without an email, password or name', async () => {
    const applied = async () => ((await dataSource.query(`SELECT name FROM migrations`)) as { name: string }[]).map((row) => row.name);
    while ((await applied()).includes('ErasedAccountsHaveNoEmail1795300000000')) await dataSource.undoLastMigration({ transaction: 'each' });
    await dataSource.query(
      `INSERT INTO users (email, display_name, password_hash, deleted_at) VALUES
         ('deleted-0@deleted.invalid', 'Old Name', 'hash', now()), ('kept@example.com', 'Kept', 'hash', NULL)`,
    );
    await dataSource.migrate();
    const rows = await dataSource.query(`SELECT email, display_name, password_hash FROM users WHERE display_name IN ('Old Name', 'Deleted user', 'Kept') ORDER BY deleted_at NULLS FIRST`);
    expect(rows).toEqual([
      { email: 'kept@example.com', display_name: 'Kept', password_hash: 'hash' },
      { email: null, display_name: 'Deleted user', password_hash: null },
    ]);
  });

  it('revert cleanly and apply again', async () => {
    await dataSource.query('TRUNCATE users CASCADE');
    for (const _ of MIGRATIONS) await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await tables(dataSource)).toEqual([]);
    await dataSource.migrate();
    expect(await tables(dataSource)).toEqual(TABLES);
    expect(await pendingSchemaChanges(dataSource)).toEqual([]);
  });
});
