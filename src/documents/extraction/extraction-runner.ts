import { Worker } from 'node:worker_threads';
import type { Chunk, ChunkOptions } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';

/** What a worker is given: one document. */
export interface ExtractionJob {
  mediaType: string;
  bytes: Uint8Array;
  maxChars: number;
  chunking: ChunkOptions;
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

/** Running from source (the tests), the worker is the last build's: a worker thread cannot load TypeScript. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? '../../../dist/src/documents/extraction/extraction.worker.js' : './extraction.worker.js', import.meta.url);

/**
 * Extracts and chunks a document in a worker thread of its own, so parsing never blocks the event
 * loop, with a time limit (the worker is terminated) and a memory limit (V8 stops the worker, not
 * the server). A crafted file can fail its own document, never the server.
 */
export function runExtraction(mediaType: string, bytes: Buffer, limits: ExtractionLimits, signal: AbortSignal): Promise<ExtractionResult> {
  // A copy of its own, moved (not copied again) into the worker.
  const owned = new Uint8Array(bytes);
  const job: ExtractionJob = { mediaType, bytes: owned, maxChars: limits.maxChars, chunking: limits.chunking };
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ExtractionAborted());
    const worker = new Worker(WORKER_URL, {
      workerData: job,
      transferList: [owned.buffer],
      env: {},
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(64, Math.ceil(limits.memoryMb / 8)) },
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      void worker.terminate();
      outcome();
    };
    const abort = () => settle(() => reject(new ExtractionAborted()));
    const timer = setTimeout(
      () => settle(() => reject(new ExtractionError(`Extracting the text took too long (over ${Math.round(limits.timeoutMs / 1000)} s); try a smaller document`))),
      limits.timeoutMs,
    );
    signal.addEventListener('abort', abort, { once: true });
    worker.once('message', (outcome: ExtractionOutcome) =>
      settle(() => (outcome.ok ? resolve({ chunks: outcome.chunks, truncated: outcome.truncated }) : reject(outcome.readable ? new ExtractionError(outcome.error) : new Error(outcome.error)))),
    );
    worker.once('error', (error: Error & { code?: string }) =>
      settle(() => reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new ExtractionError('The document needs more memory to process than this server allows') : error)),
    );
    worker.once('exit', (code) => settle(() => reject(new Error(`The extraction worker stopped with code ${code}`))));
  });
}
