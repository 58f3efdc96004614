import { defineConfig } from 'vite';

// Relative asset URLs: the build can be served from any path of any origin.
export default defineConfig({
  base: './',
  build: { target: 'es2022', sourcemap: true },
  server: { port: 5173 },
});
