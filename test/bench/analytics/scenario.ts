/**
 * GET /admin/analytics on a service-sized history: ~1,000,000 messages (and a run per reply) over
 * 90 days on PostgreSQL. Timed for 30 and 90 days once the closed days are rolled up (every
 * request after the first), against the same report with no rollup to read (the first request,
 * which reads every message of the range). EXPLAIN shows what the live part of a request reads.
 */
import { Client } from 'pg';
import { api, freshDatabase, percentile } from '../lib.js';
import type { BenchContext } from '../knowledge/scenarios.js';

const ADMIN = { email: 'bench-admin@example.com', password: 'benchmark admin password' };
const MESSAGES_PER_CONVERSATION = 24;
const DAYS = 90;
const DAY_MS = 86_400_000;

async function seed(client: Client, messages: number, log: BenchContext['log']): Promise<void> {
  const conversations = Math.ceil(messages / MESSAGES_PER_CONVERSATION);
  log(`  seeding ${messages.toLocaleString('en')} messages in ${conversations.toLocaleString('en')} conversations over ${DAYS} days`);
  await client.query(`INSERT INTO users (email, display_name) SELECT 'analytics-' || g || '@example.com', 'User ' || g FROM generate_series(1, 2000) g`);
  await client.query(
    `CREATE TABLE bench_conversations AS
     SELECT g AS n, gen_random_uuid() AS id, now() - interval '${DAYS} days' + g * interval '${DAYS} days' / $1::int AS at, u.ids[1 + g % 2000] AS owner_id
     FROM generate_series(0, $1::int - 1) g, (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE email LIKE 'analytics-%') u`,
    [conversations],
  );
  await client.query(
    `INSERT INTO conversations (id, owner_id, title, created_at, last_seq, version)
     SELECT id, owner_id, 'seeded ' || n, at, ${MESSAGES_PER_CONVERSATION}, ${MESSAGES_PER_CONVERSATION} FROM bench_conversations`,
  );
  await client.query(
    `INSERT INTO messages (conversation_id, seq, version, role, author_id, content, status, created_at, feedback_up, feedback_down)
     SELECT c.id, s, s, CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END, CASE WHEN s % 2 = 1 THEN c.owner_id END,
            'message ' || s || ' of ' || c.n, 'complete', c.at + s * interval '20 seconds',
            CASE WHEN s % 2 = 0 AND (c.n + s) % 20 = 0 AND s % 4 = 0 THEN 1 ELSE 0 END, CASE WHEN s % 2 = 0 AND (c.n + s) % 20 = 0 AND s % 4 = 2 THEN 1 ELSE 0 END
     FROM bench_conversations c, generate_series(1, ${MESSAGES_PER_CONVERSATION}) s`,
  );
  log('  seeding a run per reply and feedback on 5% of them');
  await client.query(
    `INSERT INTO agent_runs (conversation_id, trigger_message_id, response_message_id, status, provider, model, usage, created_at, started_at, first_token_at, finished_at)
     SELECT m.conversation_id, m.id, m.id,
            CASE WHEN m.seq % 50 = 0 THEN 'failed' WHEN m.seq % 98 = 0 THEN 'cancelled' ELSE 'completed' END,
            'openai', (ARRAY['gpt-4o-mini', 'gpt-4o', 'llama-3.1-70b'])[1 + m.seq % 3],
            jsonb_build_object('inputTokens', 200 + m.seq * 37 % 900, 'outputTokens', 50 + m.seq * 13 % 400),
            m.created_at - interval '2 seconds', m.created_at - interval '2 seconds',
            m.created_at - interval '2 seconds' + (150 + (m.seq * 7919) % 2500) * interval '1 millisecond',
            m.created_at + (1000 + (m.seq * 104729) % 19000) * interval '1 millisecond'
     FROM messages m WHERE m.role = 'assistant'`,
  );
  await client.query(
    `INSERT INTO message_feedback (message_id, user_id, conversation_id, rating, created_at, updated_at)
     SELECT m.id, c.owner_id, m.conversation_id, CASE WHEN m.feedback_up = 1 THEN 'up' ELSE 'down' END, m.created_at + interval '1 minute', m.created_at + interval '1 minute'
     FROM messages m JOIN bench_conversations c ON c.id = m.conversation_id WHERE m.feedback_up + m.feedback_down = 1`,
  );
  await client.query('DROP TABLE bench_conversations');
  // VACUUM too: otherwise autovacuum wakes up for the million new rows in the middle of a measurement (and index-only scans need the visibility map).
  await client.query('VACUUM ANALYZE');
}

/** EXPLAIN ANALYZE of what a request reads live: today's messages and runs, and the range's feedback. */
async function plans(client: Client, from: string, today: string, to: string): Promise<{ text: string; indexed: boolean }> {
  const explain = async (sql: string, params: unknown[]) =>
    ((await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params)).rows as Record<string, string>[]).map((row) => row['QUERY PLAN']).join('\n');
  const bin = (column: string) => `date_bin('1 day', ${column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')`;
  const messages = await explain(
    `SELECT ${bin('created_at')}, count(*) FILTER (WHERE role = 'user'), count(DISTINCT author_id), count(DISTINCT conversation_id)
     FROM messages WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
    [today, to],
  );
  const runs = await explain(`SELECT ${bin('finished_at')}, status, count(*) FROM agent_runs WHERE finished_at >= $1 AND finished_at < $2 GROUP BY 1, 2`, [today, to]);
  const feedback = await explain(
    `SELECT ${bin('updated_at')}, count(*) FILTER (WHERE rating = 'up') FROM message_feedback WHERE updated_at >= $1 AND updated_at < $2 GROUP BY 1`,
    [from, to],
  );
  // Feedback is read for the whole range: on a range that covers most of the table a sequential scan is the right plan.
  const indexed = /Index Only Scan using messages_created_at_idx/.test(messages) && /agent_runs_finished_at_idx/.test(runs);
  return { text: `-- today's messages\n${messages}\n-- today's runs\n${runs}\n-- ${DAYS} days of feedback\n${feedback}`, indexed };
}

async function timed(url: string, token: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await response.text();
  if (response.status !== 200) throw new Error(`analytics answered ${response.status}`);
  return performance.now() - started;
}

export async function analytics({ smoke, server, rows, log, fmt, startOurs }: BenchContext): Promise<void> {
  log('admin analytics');
  const db = await freshDatabase(server, 'bench_analytics');
  const ours = await startOurs(db, { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
  const client = new Client({ connectionString: db });
  await client.connect();
  try {
    await seed(client, smoke ? 24_000 : 1_000_000, log);
    const token = (await api(ours.url, 'POST', '/auth/login', undefined, ADMIN)).accessToken as string;
    const tomorrow = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
    const day = (at: number) => new Date(at).toISOString().slice(0, 10);
    const url = (days: number) => `${ours.url}/api/v1/admin/analytics?from=${day(tomorrow - days * DAY_MS)}&to=${day(tomorrow)}&interval=day`;
    const plan = await plans(client, new Date(tomorrow - DAYS * DAY_MS).toISOString(), new Date(tomorrow - DAY_MS).toISOString(), new Date(tomorrow).toISOString());
    log(plan.text);

    const samples = smoke ? 5 : 30;
    for (const days of [30, DAYS]) {
      // Without rollups (as a report computed from the tables would be every time), then with them.
      const cold: number[] = [];
      for (let round = 0; round < (smoke ? 1 : 3); round++) {
        await client.query(`DELETE FROM analytics_days`);
        cold.push(await timed(url(days), token));
      }
      for (let i = 0; i < 3; i++) await timed(url(days), token);
      const warm: number[] = [];
      for (let i = 0; i < samples; i++) warm.push(await timed(url(days), token));
      const [p50, p95, coldP50] = [percentile(warm, 50), percentile(warm, 95), percentile(cold, 50)];
      rows.push({
        scenario: `Analytics: ${days} days by day over ${smoke ? '24,000' : '1,000,000'} messages`,
        ours: `${fmt(p50)} ms (p50, rolled up)`,
        baseline: `${fmt(coldP50)} ms (from the tables)`,
        ratio: fmt(p50 / coldP50, 3),
        latency: `${fmt(p50)} / p95 ${fmt(p95)} ms; ${plan.indexed ? 'live part index-only, verified' : 'live part NOT verified index-only'}`,
        target: 'p95 < 100 ms',
        met: p95 < 100 && plan.indexed ? 'yes' : 'no',
      });
    }
  } finally {
    await client.end();
    await ours.stop();
  }
}
