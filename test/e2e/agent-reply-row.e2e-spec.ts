import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import { parseDatabaseSettings } from '../../src/config/database.config.js';
import { AppDataSource } from '../../src/database/data-source.factory.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** Makes any write of a run's response fail, as a crash or a lost connection would. */
const FAILING_LINK = `
  CREATE FUNCTION refuse_response_link() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'the link to the reply cannot be written'; END $$;
  CREATE TRIGGER refuse_response_link BEFORE UPDATE OF response_message_id ON agent_runs
    FOR EACH ROW EXECUTE FUNCTION refuse_response_link();`;

describe("a run's reply row", () => {
  let database: TestDatabase;
  let dataSource: AppDataSource;
  let messages: MessagesRepository;
  let runs: RunsRepository;
  let conversationId: string;
  let runId: string;

  const counters = async () =>
    (await dataSource.query(`SELECT last_seq, version::int AS version FROM conversations WHERE id = $1`, [conversationId]))[0];
  const replies = async () => dataSource.query(`SELECT id FROM messages WHERE conversation_id = $1 AND role = 'assistant'`, [conversationId]);

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await AppDataSource.create({
      settings: parseDatabaseSettings({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '2' }),
      embeddedDataDir: undefined,
    });
    await dataSource.initialize();
    await dataSource.migrate();
    messages = new MessagesRepository(dataSource);
    runs = new RunsRepository(dataSource);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  beforeEach(async () => {
    const [user] = await dataSource.query(`INSERT INTO users (email, display_name) VALUES (gen_random_uuid() || '@example.com', 'Ada') RETURNING id`);
    const [conversation] = await dataSource.query(`INSERT INTO conversations (owner_id) VALUES ($1) RETURNING id`, [user.id]);
    conversationId = conversation.id;
    await dataSource.query(`INSERT INTO conversation_participants (conversation_id, user_id, role) VALUES ($1, $2, 'owner')`, [conversationId, user.id]);
    const trigger = await messages.append({ conversationId, role: 'user', authorId: user.id, content: 'What time is it?' });
    const run = await runs.create({ conversationId, triggerMessageId: trigger!.message.id, requestedById: user.id, provider: 'builtin', model: 'builtin' });
    runId = run.id;
  });

  it('is linked from its run by the statement that writes it', async () => {
    const reply = await messages.appendReply({ conversationId, runId, metadata: { model: 'builtin' } });

    expect(reply).toMatchObject({ role: 'assistant', status: 'streaming', runId, content: '', seq: 2, metadata: { model: 'builtin' } });
    expect((await runs.findById(runId))?.responseMessageId).toBe(reply!.id);
  });

  it('is not written at all when the link fails: no streaming reply is left that no run points to', async () => {
    const before = await counters();
    await dataSource.query(FAILING_LINK);
    try {
      await expect(messages.appendReply({ conversationId, runId, metadata: { model: 'builtin' } })).rejects.toThrow(/link to the reply/);
    } finally {
      await dataSource.query(`DROP TRIGGER refuse_response_link ON agent_runs; DROP FUNCTION refuse_response_link()`);
    }

    expect(await replies()).toEqual([]);
    expect(await counters()).toEqual(before);
    expect((await runs.findById(runId))?.responseMessageId).toBeNull();
  });

  it('is not written for a conversation that is gone', async () => {
    await dataSource.query(`UPDATE conversations SET deleted_at = now() WHERE id = $1`, [conversationId]);

    expect(await messages.appendReply({ conversationId, runId, metadata: { model: 'builtin' } })).toBeUndefined();
    expect(await replies()).toEqual([]);
    expect((await runs.findById(runId))?.responseMessageId).toBeNull();
  });
});
