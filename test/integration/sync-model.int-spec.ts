import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { adminQuery, withDatabase } from '../support/database.js';
import { type AppProcess, freePort, spawnApp, waitForStatus } from '../support/process.js';
import { registerOn } from '../support/remote.js';
import { clientsOf, REPLY_CHUNK_DELAY_MS, REPLY_CHUNKS, runSchedule, schedules, type SyncWorld } from '../support/sync-scenario.js';

/**
 * The sync model across two server processes sharing PostgreSQL and Redis: replies stream on
 * one instance while clients of both drop and re-join, so every seam between a snapshot taken on
 * one instance and deltas relayed from the other is exercised. Needs TEST_DATABASE_URL and
 * TEST_REDIS_URL.
 */
const databaseServer = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const RUNS = Number(process.env.SYNC_RUNS ?? 3);
const SEED = Number(process.env.SYNC_SEED ?? 20_240_601);
const STEPS = Number(process.env.SYNC_STEPS ?? 24);

describe.runIf(databaseServer && redisUrl)('sync model on two instances', () => {
  let fake: FakeOpenAI;
  let databaseName: string;
  const apps: AppProcess[] = [];
  let world: SyncWorld;

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    fake.fallback = { kind: 'text', chunks: REPLY_CHUNKS, delayMs: REPLY_CHUNK_DELAY_MS };
    databaseName = `agentchat_sync_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${databaseName}"`);
    const env = {
      DATABASE_URL: withDatabase(databaseServer!, databaseName),
      REDIS_URL: redisUrl!,
      JWT_SECRET: randomBytes(48).toString('base64url'),
      AGENT_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'test',
      AGENT_DELTA_INTERVAL_MS: '0',
      RECOVERY_PAGE_MESSAGES: '4',
      MESSAGE_RATE_LIMIT: '100000',
      REGISTER_RATE_LIMIT: '100000',
      WS_CONNECT_RATE_LIMIT: '100000',
      WS_MAX_SOCKETS_PER_USER: '1000',
      WS_EVENT_BURST: '1000',
      WS_EVENT_RATE: '1000',
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < 2; i++) {
      const app = spawnApp({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'agentchat-sync-')) }, await freePort());
      apps.push(app);
      await waitForStatus(`${app.baseUrl}/health/ready`, 200, 30_000);
    }
    const [owner, member] = await Promise.all([registerOn(apps[0]!.baseUrl, 'Owner'), registerOn(apps[1]!.baseUrl, 'Member')]);
    world = {
      instances: apps.map((app) => app.baseUrl),
      users: [owner, member],
      clients: clientsOf([
        { kind: 'socket', user: 0, instance: 0 },
        { kind: 'socket', user: 1, instance: 1 },
        { kind: 'socket', user: 0, instance: 1 },
        { kind: 'sse', user: 1, instance: 0 },
        { kind: 'sse', user: 0, instance: 1 },
      ]),
      pageLimit: 3,
    };
  }, 120_000);

  afterAll(async () => {
    for (const app of apps) app.child.kill('SIGKILL');
    await Promise.all(apps.map((app) => app.exited));
    await fake?.stop();
    if (databaseName) await adminQuery(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
  });

  it(
    `every client converges, on either instance, for ${RUNS} random schedules (seed ${SEED})`,
    async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(schedules(Math.min(8, STEPS), STEPS), async (schedule) => {
          run++;
          const outcome = await runSchedule(world, schedule, `two instances, seed ${SEED} run ${run}`);
          if (outcome.failures.length) {
            const file = join(tmpdir(), `sync-model-two-instances-seed-${SEED}-run-${run}.txt`);
            writeFileSync(file, outcome.report);
            throw new Error(`sync diverged (seed ${SEED}, run ${run}; full report in ${file})\n${outcome.report}`);
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: !process.env.SYNC_SHRINK, verbose: 1 },
      );
      expect(run).toBeGreaterThan(0);
    },
    Math.max(120_000, RUNS * 60_000),
  );
});
