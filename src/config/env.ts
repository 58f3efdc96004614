/**
 * Small, typed readers for environment variables. Each reader throws a ConfigError whose
 * one-line message names the variable, so a misconfigured deployment fails fast and clearly.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function fail(name: string, expectation: string, value: string): never {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  throw new ConfigError(`Invalid environment variable ${name}: expected ${expectation}, got "${shown}"`);
}

export function readString(env: Env, name: string, fallback: string): string;
export function readString(env: Env, name: string): string | undefined;
export function readString(env: Env, name: string, fallback?: string): string | undefined {
  return raw(env, name) ?? fallback;
}

/** Reads a value that must never be echoed back (secrets), not even in the error message. */
export function readSecret(env: Env, name: string): string | undefined {
  return env[name] === undefined || env[name] === '' ? undefined : env[name];
}

export function readInt(env: Env, name: string, fallback: number, range: { min: number; max: number }): number;
export function readInt(env: Env, name: string, fallback: undefined, range: { min: number; max: number }): number | undefined;
export function readInt(
  env: Env,
  name: string,
  fallback: number | undefined,
  { min, max }: { min: number; max: number },
): number | undefined {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) fail(name, `an integer between ${min} and ${max}`, value);
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    fail(name, `an integer between ${min} and ${max}`, value);
  }
  return parsed;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const normalized = value.toLowerCase();
  if (TRUE.has(normalized)) return true;
  if (FALSE.has(normalized)) return false;
  return fail(name, 'true or false', value);
}

export function readEnum<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(values as readonly string[]).includes(value)) fail(name, `one of ${values.join(', ')}`, value);
  return value as T;
}

/** Parses a URL and checks its scheme; the message never includes the value (URLs carry passwords). */
export function readUrl(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`Invalid environment variable ${name}: not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(
      `Invalid environment variable ${name}: expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL`,
    );
  }
  return value;
}

export function readList(env: Env, name: string): string[] {
  const value = raw(env, name);
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
