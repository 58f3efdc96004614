// Validates the AsyncAPI document (docs/asyncapi.yaml, or the file given) with the official
// parser, which is what `asyncapi validate` runs: the specification's schema, references and
// rules. Errors and warnings fail; hints and information do not.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';

const file = process.argv[2] ?? fileURLToPath(new URL('../docs/asyncapi.yaml', import.meta.url));
const { document, diagnostics } = await new Parser().parse(readFileSync(file, 'utf8'), { source: file });
const problems = diagnostics.filter((diagnostic) => diagnostic.severity <= DiagnosticSeverity.Warning);
for (const { severity, code, message, path } of problems) {
  console.error(`${file}: ${severity === DiagnosticSeverity.Error ? 'error' : 'warning'} ${code} at ${path.join('.') || '(root)'}: ${message}`);
}
if (!document || problems.length) process.exit(1);
console.log(`${file}: valid AsyncAPI ${document.version()}, ${document.operations().length} operations`);
