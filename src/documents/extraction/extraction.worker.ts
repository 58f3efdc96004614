import { chunkSections } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import type { ExtractionJob, ExtractionOutcome } from './extraction-runner.js';
import { extractSections } from './extractor.js';

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

process.on('message', (job: ExtractionJob) => {
  void extract(job).then((outcome) => process.send!(outcome));
});
// The server is gone (or let this process go): nothing more will come.
process.on('disconnect', () => process.exit(0));
