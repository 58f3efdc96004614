import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { JSONSchema7 } from '@ai-sdk/provider';
import type { RegExpEngine } from 'ajv/dist/types/index.js';

/** A tool's input schema larger than this is refused: it would also crowd the model's context. */
export const MAX_SCHEMA_BYTES = 65_536;
/** A longer `pattern` (or patternProperties key) is refused without being analysed. */
export const MAX_PATTERN_LENGTH = 1000;
/** Distinct patterns one schema may use: each is analysed before the schema is accepted. */
const MAX_PATTERNS = 64;
/** Time the analysis of one pattern may take; a pattern it cannot show safe in time is refused. */
const PATTERN_CHECK_TIMEOUT_MS = 2000;
/** Verdicts kept, by flags and pattern: tools are listed again on each reconnection. */
const MAX_VERDICTS = 4096;

const options = { strict: false, allErrors: false, validateFormats: false } as const;

/** Why each analysed pattern was refused, or null when it was found safe. */
const verdicts = new Map<string, string | null>();

/**
 * Whether V8's backtracking engine runs the pattern in linear time on any input. Patterns come from
 * other systems (an MCP server) and run on model-produced text, on the event loop: a pattern that
 * is exponential or polynomial (`^(a+)+$`, `.*foo.*`) would let a crafted input stall the process.
 */
async function patternRefusal(pattern: string, flags: string, signal?: AbortSignal): Promise<string | null> {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  const key = `${flags}/${pattern}`;
  const known = verdicts.get(key);
  if (known !== undefined) return known;
  // Loaded on first use (a tool with patterns): recheck is large, and most servers never need it.
  const { check: checkRegExp } = await import('recheck');
  const diagnostics = await checkRegExp(pattern, flags, { timeout: PATTERN_CHECK_TIMEOUT_MS, ...(signal ? { signal } : {}) });
  signal?.throwIfAborted();
  let refusal: string | null = null;
  if (diagnostics.status === 'vulnerable') refusal = `its matching time is ${diagnostics.complexity.type} in the input length`;
  else if (diagnostics.status === 'unknown') refusal = `it could not be shown safe (${diagnostics.error.kind})`;
  if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(key, refusal);
  return refusal;
}

/**
 * The RegExp factory given to ajv: it notes every pattern the schema compiles to. Once sealed, a
 * pattern not noted before (compiled lazily, after the analysis) is refused rather than run.
 */
function patternRecorder(): { engine: RegExpEngine; patterns: Map<string, string>; seal(): void } {
  const patterns = new Map<string, string>();
  let sealed = false;
  const engine = (pattern: string, flags: string): RegExp => {
    if (sealed && patterns.get(pattern) !== flags) throw new Error(`the pattern ${JSON.stringify(pattern.slice(0, 80))} was not analysed`);
    patterns.set(pattern, flags);
    // regex-safety: analysed before use, by checkPatterns, which the compiled validator waits for.
    return new RegExp(pattern, flags);
  };
  return { engine: Object.assign(engine, { code: 'new RegExp' }), patterns, seal: () => (sealed = true) };
}

/**
 * A fresh instance per schema: an instance keeps every schema it compiled, and tools are listed
 * again on each reconnection; two servers may also reuse the same $id.
 */
function validatorFor(schema: Record<string, unknown>, regExp: RegExpEngine | undefined): Ajv {
  const settings = regExp ? { ...options, code: { regExp } } : options;
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (dialect.includes('2020-12')) return new Ajv2020(settings);
  if (dialect.includes('2019-09')) return new Ajv2019(settings);
  return new Ajv(settings);
}

async function checkPatterns(patterns: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<void> {
  if (patterns.size > MAX_PATTERNS) throw new Error(`the input schema uses more than ${MAX_PATTERNS} patterns`);
  for (const [pattern, flags] of patterns) {
    const refusal = await patternRefusal(pattern, flags, signal);
    if (refusal !== null) throw new Error(`the pattern ${JSON.stringify(pattern.slice(0, 80))} is refused: ${refusal}`);
  }
}

/** Lists what does not match, or returns undefined when the value matches. */
export type SchemaCheck = (value: unknown) => string | undefined;

function compileWith(schema: Record<string, unknown>, regExp?: RegExpEngine): SchemaCheck {
  if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) throw new Error(`the schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  const { $schema: _dialect, ...rest } = schema;
  const validate: ValidateFunction = validatorFor(schema, regExp).compile(rest);
  return (value) => {
    if (validate(value)) return undefined;
    return (validate.errors ?? []).map((error) => `${error.instancePath || 'input'}: ${error.message ?? 'is invalid'}`).join('; ');
  };
}

/**
 * Compiles a JSON Schema from the configuration (a workflow's input or answer); throws when it is
 * too large or not compilable. Its patterns are the operator's, like the code's own: not analysed.
 */
export function compileJsonSchema(schema: Record<string, unknown>): SchemaCheck {
  return compileWith(schema);
}

export interface CompiledSchema {
  /** The schema offered to the model: always an object schema, without the dialect marker. */
  jsonSchema: JSONSchema7;
  /** Throws a readable message for the model when the input does not match. */
  check(toolName: string, input: unknown): void;
}

function objectSchema(schema: unknown): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('the input schema is not an object');
  const record = schema as Record<string, unknown>;
  if (record.type !== 'object') throw new Error('the input schema does not describe an object');
  if (JSON.stringify(record).length > MAX_SCHEMA_BYTES) throw new Error(`the input schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  return record;
}

function inputSchema(record: Record<string, unknown>, issues: SchemaCheck): CompiledSchema {
  const { $schema: _dialect, ...offered } = record;
  return {
    jsonSchema: offered as JSONSchema7,
    check(toolName, input) {
      const found = issues(input);
      if (found !== undefined) throw new Error(`Invalid arguments for ${toolName}: ${found}`);
    },
  };
}

/** Compiles a configured tool's input schema (a workflow's); throws when it is too large, not an object schema or not compilable. */
export function compileInputSchema(schema: unknown): CompiledSchema {
  const record = objectSchema(schema);
  return inputSchema(record, compileJsonSchema(record));
}

/**
 * Compiles the input schema of a tool another system describes (an MCP server's); rejects, besides,
 * when it uses a pattern that could stall the process (see patternRefusal).
 */
export async function compileRemoteInputSchema(schema: unknown, signal?: AbortSignal): Promise<CompiledSchema> {
  const record = objectSchema(schema);
  const recorder = patternRecorder();
  const issues = compileWith(record, recorder.engine);
  recorder.seal();
  // Compiling builds the regular expressions but runs none: the validator is used only once all are found safe.
  await checkPatterns(recorder.patterns, signal);
  return inputSchema(record, issues);
}
