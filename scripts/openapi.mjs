// Writes docs/openapi.json from the built app (`npm run openapi`). With --check it writes nothing
// and fails when the committed document differs from what the code describes.
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { createApp } from '../dist/src/app.factory.js';
import { buildOpenApiDocument } from '../dist/src/openapi.js';
import { createRootLogger } from '../dist/src/common/logging/logger.js';
import { AppConfig } from '../dist/src/config/app-config.js';

const file = new URL('../docs/openapi.json', import.meta.url);
// An in-memory database and no secrets: the document depends on the code only.
const config = AppConfig.fromEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: 'memory://' });
const app = await createApp(config, { logger: createRootLogger(config.app) });
const text = `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`;
await app.close();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // A missing document differs like any other.
  }
  if (committed !== text) {
    console.error('docs/openapi.json is out of date with the code: run `npm run openapi` and commit the result.');
    process.exit(1);
  }
  console.log('docs/openapi.json is up to date.');
} else {
  writeFileSync(file, text);
  console.log('Wrote docs/openapi.json.');
}
