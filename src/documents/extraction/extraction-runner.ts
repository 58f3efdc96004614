import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Chunk, ChunkOptions } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import { MEMORY_EXCEEDED } from './watchdog.js';

/** What the worker process is given: one document. */
export interface ExtractionJob {
  mediaType: string;
  bytes: Uint8Array;
  maxChars: number;
  chunking: ChunkOptions;
  /** The worker ends itself past this (and a little more), should the server be unable to. */
  timeoutMs?: number;
}

export interface ExtractionResult {
  chunks: Chunk[];
  /** Only the first `maxChars` characters of the text were read. */
  truncated: boolean;
}

/** What a worker answers; `readable` errors are meant for users, the others for the log. */
export type ExtractionOutcome = ({ ok: true } & ExtractionResult) | { ok: false; error: string; readable: boolean };

export interface ExtractionLimits {
  timeoutMs: number;
  memoryMb: number;
  maxChars: number;
  chunking: ChunkOptions;
}

/** The extraction was stopped from outside (the server is stopping): the document stays to process. */
export class ExtractionAborted extends Error {
  override readonly name = 'ExtractionAborted';
}

/** Running from source (the tests), the worker is the last build's: Node cannot run TypeScript. */
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../../dist/src/documents/extraction/extraction.worker.js' : './extraction.worker.js', import.meta.url));
/** What the worker printed last (a crash report), for the log. */
const STDERR_KEPT = 4096;

/**
 * Extracts and chunks a document in a process of its own, so parsing never blocks the event loop
 * and a crafted file can fail its own document, never the server: past its time the process is
 * killed, and past its heap V8 aborts that process alone. (A worker thread's resourceLimits do not
 * hold: a large allocation in a worker still aborts the whole process.)
 */
export function runExtraction(mediaType: string, bytes: Buffer, limits: ExtractionLimits, signal: AbortSignal): Promise<ExtractionResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ExtractionAborted());
    const child = fork(WORKER, [], {
      execArgv: [`--max-old-space-size=${limits.memoryMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {},
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-STDERR_KEPT)));
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      child.kill('SIGKILL');
      outcome();
    };
    const abort = () => settle(() => reject(new ExtractionAborted()));
    const timer = setTimeout(() => settle(() => reject(new ExtractionError(`Extracting the text took too long (over ${(limits.timeoutMs / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} s); try a smaller document`))), limits.timeoutMs);
    signal.addEventListener('abort', abort, { once: true });
    child.once('message', (outcome: ExtractionOutcome) => settle(() => (outcome.ok ? resolve(outcome) : reject(outcome.readable ? new ExtractionError(outcome.error) : new Error(outcome.error)))));
    child.once('error', (error) => settle(() => reject(error)));
    child.once('exit', (code, exitSignal) => settle(() => reject(exitError(code, exitSignal, stderr))));
    child.send({ mediaType, bytes, maxChars: limits.maxChars, chunking: limits.chunking, timeoutMs: limits.timeoutMs } satisfies ExtractionJob);
  });
}

/** Why the worker ended without answering: out of memory is the document's doing, anything else the server's. */
function exitError(code: number | null, signal: NodeJS.Signals | null, stderr: string): Error {
  if (/heap out of memory|Allocation failed/.test(stderr) || stderr.includes(MEMORY_EXCEEDED)) return new ExtractionError('The document needs more memory to process than this server allows');
  return new Error(`The extraction worker stopped (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' ')}`);
}
