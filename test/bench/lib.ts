import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';

export { freePort } from '../support/process.js';

export const DIST = resolve(import.meta.dirname, '..', '..');
export const ROOT = resolve(DIST, '..');

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Running {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Starts a Node process (with a raised file-descriptor limit) and waits until `readyPath` answers 200. */
/** BENCH_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the servers under load. */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS ?? '';

export async function startNode(script: string, env: Record<string, string>, port: number, readyPath: string, timeoutMs = 60_000): Promise<Running & { readyMs: number }> {
  const started = Date.now();
  const child = spawn('bash', ['-c', `ulimit -n 65535 2>/dev/null; exec "${process.execPath}" --max-old-space-size=4096 ${NODE_FLAGS} "${script}"`], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      const response = await fetch(url + readyPath, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`${script} exited: ${stderr}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${script} not ready after ${timeoutMs} ms: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const readyMs = Date.now() - started;
  return {
    child,
    url,
    readyMs,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a load generator as its own process; it prints one JSON line with its results. */
export async function runLoad<T>(name: string, settings: unknown): Promise<T> {
  const script = resolve(DIST, 'test', 'bench', 'load', `${name}.js`);
  const child = spawn('bash', ['-c', `ulimit -n 65535 2>/dev/null; exec "${process.execPath}" "${script}"`], {
    env: { ...process.env, BENCH_PARAMS: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.trim().split('\n').at(-1);
  if (code !== 0 || !line) throw new Error(`load ${name} failed (${code}): ${err}`);
  return JSON.parse(line) as T;
}

export async function adminQuery(server: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function databaseUrl(server: string, name: string): string {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function freshDatabase(server: string, name: string): Promise<string> {
  await adminQuery(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await adminQuery(server, `CREATE DATABASE "${name}"`);
  return databaseUrl(server, name);
}

export async function api<T = any>(base: string, method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function registerUsers(base: string, count: number): Promise<{ id: string; token: string }[]> {
  const users = [];
  for (let i = 0; i < count; i++) {
    const body = await api(base, 'POST', '/auth/register', undefined, {
      email: `bench-${i}-${Date.now()}@example.com`,
      password: 'benchmark password',
      displayName: `Bench ${i}`,
    });
    users.push({ id: body.user.id as string, token: body.accessToken as string });
  }
  return users;
}

export function params<T>(): T {
  return JSON.parse(process.env.BENCH_PARAMS ?? '{}') as T;
}
