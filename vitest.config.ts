import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC (not Vite's default transform) because Nest's dependency injection needs the decorator
// metadata that only a TypeScript-aware compiler emits; the options come from tsconfig.json.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/e2e/**/*.e2e-spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
