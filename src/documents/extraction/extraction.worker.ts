import { chunkSections } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import type { ExtractionJob, ExtractionOutcome } from './extraction-runner.js';
import { extractSections } from './extractor.js';
import { Watchdog } from './watchdog.js';

/** One document at a time: extracted, chunked, answered; then the next, in the same process. */
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

const watchdog = new Watchdog();

async function answer(job: ExtractionJob): Promise<void> {
  watchdog.arm(job.timeoutMs);
  const outcome = await extract(job);
  watchdog.disarm();
  process.send!(outcome);
}

process.on('message', (job: ExtractionJob) => void answer(job));
// The server is gone (or let this process go): nothing more will come.
process.on('disconnect', () => process.exit(0));
