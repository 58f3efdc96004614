import { defineConfig } from 'vitest/config';

// Multi-process scale-out and outage tests: real server processes, PostgreSQL and Redis.
export default defineConfig({
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  test: {
    include: ['test/integration/**/*.int-spec.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
