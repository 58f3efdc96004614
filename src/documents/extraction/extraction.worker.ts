import { chunkSections } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import type { ExtractionJob, ExtractionOutcome } from './extraction-runner.js';
import { extractSections } from './extractor.js';
import { Watchdog } from './watchdog.js';

/** One document per process: extracted, chunked, answered, and the process ends. */
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

// The server closed the channel (or was killed): nobody will read the answer, nor kill this process.
process.once('disconnect', () => process.exit(1));

const watchdog = new Watchdog();

process.once('message', (job: ExtractionJob) => {
  watchdog.arm(job.timeoutMs);
  void extract(job).then((outcome) => process.send!(outcome, () => process.exit(0)));
});
