/**
 * Build step (`npm run build`, after tsc): writes the template new embedded databases start from,
 * for the installed PGlite release, unless it is there already. See pglite-template.ts.
 */
import { ensureDefaultTemplate } from './pglite-template.js';

const started = Date.now();
const { file, written } = await ensureDefaultTemplate();
if (written) process.stdout.write(`Wrote ${file} in ${Date.now() - started} ms\n`);
