import { defineConfig } from 'vitest/config';

// The long run of the sync model: many random schedules (SYNC_RUNS, default 1000) from one seed
// (SYNC_SEED, default the CI seed), each in a fresh conversation of one server.
export default defineConfig({
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  test: {
    include: ['test/e2e/sync-model.e2e-spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    env: { SYNC_RUNS: process.env.SYNC_RUNS ?? '1000' },
    hookTimeout: 60_000,
  },
});
