import { parentPort, workerData } from 'node:worker_threads';
import { chunkSections } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import type { ExtractionJob, ExtractionOutcome } from './extraction-runner.js';
import { extractSections } from './extractor.js';

/** One document per worker: extracted, chunked, answered, and the worker ends. */
async function extract(job: ExtractionJob): Promise<ExtractionOutcome> {
  try {
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    const { sections, truncated } = await extractSections(job.mediaType, bytes, job.maxChars);
    return { ok: true, chunks: chunkSections(sections, job.chunking), truncated };
  } catch (error) {
    if (error instanceof ExtractionError) return { ok: false, error: error.message, readable: true };
    return { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error), readable: false };
  }
}

// A worker thread's port has no origin to name (the rule is about window.postMessage).
// oxlint-disable-next-line unicorn/require-post-message-target-origin
parentPort?.postMessage(await extract(workerData as ExtractionJob));
