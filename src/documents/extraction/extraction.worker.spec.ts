import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildPdf } from '../../../test/fixtures/documents/index.js';
import { waitUntil } from '../../../test/support/conditions.js';
import { DEFAULT_CHUNKING } from '../chunker.js';
import type { ExtractionJob } from './extraction-runner.js';

/** The last build's worker, as the runner starts it from source: Node cannot run TypeScript. */
const WORKER = fileURLToPath(new URL('../../../dist/src/documents/extraction/extraction.worker.js', import.meta.url));

/** Thousands of pages: well over a minute of extraction, read page by page. */
const LONG_PDF = buildPdf(Array.from({ length: 20_000 }, (_, page) => [{ text: `Page ${page} of a very long report.` }]));

/** The process's state and the CPU time it has used (clock ticks); undefined once it is gone. */
function stat(pid: number): { state: string; cpu: number } | undefined {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After the command name: state, then (fields 14 and 15 of the line) user and system time.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, cpu: Number(fields[11]) + Number(fields[12]) };
}

/** Whether the process is alive: not gone, nor a zombie left for its new parent to reap. */
function running(pid: number): boolean {
  const now = stat(pid);
  return now !== undefined && now.state !== 'Z';
}

/** The worker as the runner starts it, given the job. */
function start(job: Partial<ExtractionJob>): { child: ChildProcess; exited: Promise<number | null>; answered: () => boolean } {
  const child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: {} });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let answered = false;
  child.once('message', () => (answered = true));
  child.send({ mediaType: 'application/pdf', bytes: LONG_PDF, maxChars: 100_000_000, chunking: DEFAULT_CHUNKING, ...job } satisfies Partial<ExtractionJob>);
  return { child, exited, answered: () => answered };
}

describe('extraction worker', () => {
  it('ends when the server that started it is killed', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'extraction-worker-'));
    const pdf = join(folder, 'long.pdf');
    writeFileSync(pdf, LONG_PDF);
    // A stand-in for the server: starts the worker as the runner does, hands it the job, says its pid.
    const server = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { fork } from 'node:child_process';
         import { readFileSync } from 'node:fs';
         const child = fork(${JSON.stringify(WORKER)}, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: {} });
         child.send({ mediaType: 'application/pdf', bytes: readFileSync(${JSON.stringify(pdf)}), maxChars: 100000000, chunking: ${JSON.stringify(DEFAULT_CHUNKING)} }, () => console.log(child.pid));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    server.stdout!.on('data', (data: Buffer) => (output += data.toString()));
    const pid = Number(await waitUntil(() => (output.includes('\n') ? output.slice(0, output.indexOf('\n')) : undefined), 'the worker to be started', 15_000));
    try {
      // Under way: a good second of extraction done (of over a minute).
      await waitUntil(() => (stat(pid)?.cpu ?? 0) >= 100, 'the worker to be extracting', 15_000);
      expect(running(pid)).toBe(true);
      server.kill('SIGKILL');
      await waitUntil(() => !running(pid), 'the worker to end', 15_000);
      expect(running(pid)).toBe(false);
    } finally {
      if (running(pid)) process.kill(pid, 'SIGKILL');
      rmSync(folder, { recursive: true, force: true });
    }
  }, 40_000);

  it('ends itself past its time limit, when nobody kills it', async () => {
    const { child, exited, answered } = start({ timeoutMs: 500 });
    let code: number | null | undefined;
    void exited.then((value) => (code = value));
    try {
      await waitUntil(() => code !== undefined, 'the worker to end', 15_000);
      expect(code).not.toBe(0);
      expect(answered()).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
