import { defineConfig } from 'vitest/config';

// Nest's dependency injection needs decorator metadata; Vite's Oxc transformer emits it when
// asked (the production build gets the same from tsc). src/di-metadata.spec.ts guards this.
export default defineConfig({
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  test: {
    include: ['src/**/*.spec.ts', 'test/support/**/*.spec.ts', 'test/service/**/*.service-spec.ts', 'test/e2e/**/*.e2e-spec.ts', 'packages/*/test/**/*.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
