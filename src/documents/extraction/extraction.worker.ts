import { Worker } from 'node:worker_threads';
import { chunkSections } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import type { ExtractionJob, ExtractionOutcome } from './extraction-runner.js';
import { extractSections } from './extractor.js';

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

/** Past the server's own limit, which answers the document's uploader; this only catches a server that could not kill the process. */
const BACKSTOP_GRACE_MS = 2000;
/**
 * Parsing can keep this thread busy for long stretches (promise chains never let timers run), so
 * a thread of its own ends the process once the server is gone (it was re-parented) or the time
 * is up, whatever the extraction is doing.
 */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.parent || Date.now() > workerData.deadline) process.kill(process.pid, 'SIGKILL');
}, 200);`;

// The server closed the channel (or was killed): nobody will read the answer, nor kill this process.
process.once('disconnect', () => process.exit(1));

process.once('message', (job: ExtractionJob) => {
  const deadline = job.timeoutMs === undefined ? Infinity : Date.now() + job.timeoutMs + BACKSTOP_GRACE_MS;
  new Worker(WATCHDOG, { eval: true, workerData: { parent: process.ppid, deadline } }).unref();
  void extract(job).then((outcome) => process.send!(outcome, () => process.exit(0)));
});
