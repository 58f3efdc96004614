/**
 * Retrieval load: the same queries, `concurrency` at a time. `ours` boots the application (not
 * listening) and calls DocumentSearchService.search, the path the agent takes; `baseline` runs the
 * minimal full-text query over the same scope with a bare pg pool. Prints latencies and, per
 * query, the chunk ids found (so the two sides can be compared).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { createApp } from '../../../src/app.factory.js';
import { AppConfig } from '../../../src/config/app-config.js';
import { DocumentSearchService, type SearchScope } from '../../../src/documents/document-search.service.js';
import { params, percentile } from '../lib.js';

export interface RetrievalQuery {
  query: string;
  scope: SearchScope;
}

interface Params {
  mode: 'ours' | 'baseline';
  databaseUrl: string;
  queries: RetrievalQuery[];
  /** Run first and not measured: both sides start with the same warm caches. */
  warmup: number;
  concurrency: number;
  limit: number;
}

/** The documents of the scope as an array, then the ranked chunks among them. */
const BASELINE_SCOPE = {
  user: `SELECT id FROM documents WHERE status = 'ready' AND ((conversation_id IS NULL AND owner_id = $2)
           OR conversation_id IN (SELECT conversation_id FROM conversation_participants WHERE user_id = $2))`,
  conversation: `SELECT id FROM documents WHERE status = 'ready' AND conversation_id = $2`,
};
const baselineSql = (scope: string) =>
  `SELECT ch.id, ts_rank_cd(ch.search_vector, q) AS rank
   FROM document_chunks ch, websearch_to_tsquery('english', $1) q
   WHERE ch.search_vector @@ q AND ch.document_id = ANY(ARRAY(${scope}))
   ORDER BY rank DESC, ch.document_id, ch.seq
   LIMIT $3`;

type Search = (query: RetrievalQuery) => Promise<string[]>;

async function ours(p: Params): Promise<{ search: Search; close: () => Promise<void> }> {
  const config = AppConfig.fromEnv({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'agentchat-bench-')),
    DATABASE_URL: p.databaseUrl,
    DATABASE_POOL_SIZE: '10',
  });
  const app = await createApp(config);
  const service = app.get(DocumentSearchService);
  return {
    search: async ({ scope, query }) => (await service.search(scope, query, { limit: p.limit })).map((hit) => hit.chunkId),
    close: () => app.close(),
  };
}

function baseline(p: Params): { search: Search; close: () => Promise<void> } {
  const pool = new Pool({ connectionString: p.databaseUrl, max: 10 });
  return {
    search: async ({ scope, query }) => {
      const [sql, id] = 'userId' in scope ? [BASELINE_SCOPE.user, scope.userId] : [BASELINE_SCOPE.conversation, scope.conversationId];
      const { rows } = await pool.query<{ id: string }>(baselineSql(sql), [query, id, p.limit]);
      return rows.map((row) => row.id);
    },
    close: () => pool.end(),
  };
}

const p = params<Params>();
const side = p.mode === 'ours' ? await ours(p) : baseline(p);
for (const query of p.queries.slice(0, p.warmup)) await side.search(query);

const measured = p.queries.slice(p.warmup);
const latencies: { ms: number; user: boolean }[] = [];
const found: string[][] = Array.from({ length: measured.length }, () => []);
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: p.concurrency }, async () => {
    while (next < measured.length) {
      const index = next++;
      const at = performance.now();
      found[index] = await side.search(measured[index]!);
      latencies.push({ ms: performance.now() - at, user: 'userId' in measured[index]!.scope });
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await side.close();
const ms = (user?: boolean) => latencies.filter((l) => user === undefined || l.user === user).map((l) => l.ms);
console.log(
  JSON.stringify({
    queries: measured.length,
    perSecond: measured.length / seconds,
    p50: percentile(ms(), 50),
    p99: percentile(ms(), 99),
    userP50: percentile(ms(true), 50),
    userP99: percentile(ms(true), 99),
    conversationP50: percentile(ms(false), 50),
    conversationP99: percentile(ms(false), 99),
    found,
  }),
);
process.exit(0);
