import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './env.js';

/** The largest JSON configuration read, from a file or from the variable itself. */
export const MAX_CONFIG_BYTES = 1_048_576;

/** An http or https URL; the refusal never repeats the value (URLs carry passwords and tokens). */
export const httpUrl = z
  .string()
  .max(8192)
  .refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), 'expected an http or https URL');

/**
 * Parses JSON text. V8's messages quote the text itself, which may hold secrets: the error gives
 * the position only.
 */
export function parseJsonText(variable: string, text: string, source: string): unknown {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new ConfigError(`Invalid ${variable}: ${source} is larger than ${MAX_CONFIG_BYTES} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const position = /at position \d+/.exec((error as Error).message)?.[0];
    throw new ConfigError(`Invalid ${variable}: ${source} is not valid JSON${position ? ` (${position})` : ''}`);
  }
}

/** Reads a JSON configuration file; errors name the file, never its content. */
export function readJsonFile(variable: string, path: string): unknown {
  let text: string;
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES) throw new ConfigError(`Invalid ${variable}: ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`Invalid ${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseJsonText(variable, text, path);
}

/** Validates part of a JSON configuration; the error names the path of the first issue, never a value. */
export function checkJson<T>(variable: string, schema: z.ZodType<T>, value: unknown, source: string, at: string[]): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = [...at, ...issue.path.map(String)].join('.') || '(root)';
  throw new ConfigError(`Invalid ${variable}: ${source} at ${where}: ${issue.message}`);
}
