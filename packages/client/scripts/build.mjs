// Builds the package: REST types from the committed OpenAPI document, the Socket.IO contract's
// declarations from the server's own source (one source of truth, never copied by hand), then
// the package itself. `--generate` stops after the generated files (enough for a typecheck).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const root = join(pkg, '..', '..');
const generated = join(pkg, 'src', 'generated');

// The project's compiler (the one the server is built with), not the one openapi-typescript brings.
const tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
const compile = (project) => {
  try {
    execFileSync(process.execPath, [tsc, '-p', join(pkg, project)], { stdio: 'inherit' });
  } catch {
    process.exit(1);
  }
};

rmSync(generated, { recursive: true, force: true });
mkdirSync(generated, { recursive: true });

const document = new URL('docs/openapi.json', `file://${root}/`);
if (!existsSync(document)) {
  process.stderr.write('docs/openapi.json is missing: the REST types are generated from the committed OpenAPI document.\n');
  process.exit(1);
}
const rest = astToString(await openapiTS(document));
writeFileSync(join(generated, 'rest.ts'), `// Generated from docs/openapi.json by scripts/build.mjs: do not edit.\n\n${rest}`);

// Declarations only: the server's wire contract and the DTOs it names, as the server compiles them.
compile('tsconfig.server-types.json');

if (!process.argv.includes('--generate')) {
  rmSync(join(pkg, 'dist'), { recursive: true, force: true });
  compile('tsconfig.json');
  // tsc never copies declaration files; the package's own declarations import these.
  cpSync(join(generated, 'server'), join(pkg, 'dist', 'generated', 'server'), { recursive: true });
}
