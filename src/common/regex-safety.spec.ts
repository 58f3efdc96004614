import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { check, type Diagnostics } from 'recheck';
import type { Node, NoSubstitutionTemplateLiteral, SourceFile, StringLiteral } from 'typescript/unstable/ast';
import { isCallExpression, isIdentifier, isNewExpression, isNoSubstitutionTemplateLiteral, isRegularExpressionLiteral, isStringLiteral } from 'typescript/unstable/ast/is';
import { API } from 'typescript/unstable/sync';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE_DIR = join(ROOT, 'src');

// Found by the same walk as every other pattern: the test checks that it sees this one.
const OWN_LOCATION = new RegExp(`^src/common/regex-safety\\.spec\\.ts:\\d+$`);

interface FoundPattern {
  location: string;
  /** Null when the pattern is built at run time: nothing can be said about it, so it fails. */
  regex: { source: string; flags: string } | null;
}

function isLiteralText(node: Node | undefined): node is StringLiteral | NoSubstitutionTemplateLiteral {
  return node !== undefined && (isStringLiteral(node) || isNoSubstitutionTemplateLiteral(node));
}

/**
 * A pattern built at run time passes only when the line above says it is analysed (with recheck)
 * before it is used: the schemas of external tools carry such patterns.
 */
const RUN_TIME_MARK = 'regex-safety: analysed before use';

function analysedAtRunTime(file: SourceFile, node: Node): boolean {
  const lines = file.text.slice(0, node.getStart(file)).split('\n');
  return (lines.at(-2) ?? '').includes(RUN_TIME_MARK);
}

/** Regex literals and `RegExp(...)` / `new RegExp(...)` calls, found by the TypeScript parser. */
function patternsIn(file: SourceFile): FoundPattern[] {
  const found: FoundPattern[] = [];
  const locate = (node: Node) => `${relative(ROOT, file.fileName)}:${file.text.slice(0, node.getStart(file)).split('\n').length}`;
  const visit = (node: Node): void => {
    if (isRegularExpressionLiteral(node)) {
      const end = node.text.lastIndexOf('/');
      found.push({ location: locate(node), regex: { source: node.text.slice(1, end), flags: node.text.slice(end + 1) } });
    } else if ((isNewExpression(node) || isCallExpression(node)) && isIdentifier(node.expression) && node.expression.text === 'RegExp') {
      const [source, flags] = node.arguments ?? [];
      const literal = isLiteralText(source) && (flags === undefined || isLiteralText(flags));
      if (literal) found.push({ location: locate(node), regex: { source: source.text, flags: flags?.text ?? '' } });
      else if (!analysedAtRunTime(file, node)) found.push({ location: locate(node), regex: null });
    }
    node.forEachChild(visit);
  };
  visit(file);
  return found;
}

function sourceFiles(): string[] {
  return readdirSync(SOURCE_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(SOURCE_DIR, name))
    .sort();
}

function findPatterns(): FoundPattern[] {
  const api = new API({ cwd: ROOT });
  try {
    const { program } = api.updateSnapshot({ openProjects: [join(ROOT, 'tsconfig.json')] }).getProjects()[0]!;
    return sourceFiles().flatMap((fileName) => {
      const file = program.getSourceFile(fileName);
      if (!file) throw new Error(`${relative(ROOT, fileName)} is not part of tsconfig.json, so its regular expressions cannot be checked`);
      return patternsIn(file);
    });
  } finally {
    api.close();
  }
}

function describeProblem(pattern: FoundPattern, diagnostics: Diagnostics | undefined): string {
  if (!pattern.regex || !diagnostics) return `${pattern.location}: a pattern built at run time cannot be checked; use a literal one`;
  const shown = `/${pattern.regex.source}/${pattern.regex.flags}`;
  if (diagnostics.status === 'vulnerable') {
    return `${pattern.location} ${shown}: ${diagnostics.complexity.summary}; attack string: ${diagnostics.attack.pattern}`;
  }
  return `${pattern.location} ${shown}: ${diagnostics.status}${diagnostics.status === 'unknown' ? ` (${diagnostics.error.kind})` : ''}`;
}

describe('regular expressions in src', () => {
  it('are all safe from catastrophic backtracking (ReDoS)', { timeout: 120_000 }, async () => {
    const patterns = findPatterns();
    // A walk that silently found nothing would pass everything.
    expect(patterns.length).toBeGreaterThan(20);
    expect(patterns.some(({ location, regex }) => OWN_LOCATION.test(location) && regex !== null)).toBe(true);

    const problems: string[] = [];
    for (const pattern of patterns) {
      // Step limits instead of wall-clock ones keep the verdict the same on a busy machine;
      // the overall timeout only stops a check that would never end.
      const diagnostics = pattern.regex
        ? await check(pattern.regex.source, pattern.regex.flags, { randomSeed: 0, timeout: 30_000, incubationTimeout: null, attackTimeout: null, seedingTimeout: null })
        : undefined;
      if (diagnostics?.status !== 'safe') problems.push(describeProblem(pattern, diagnostics));
    }
    expect(problems).toEqual([]);
  });
});
