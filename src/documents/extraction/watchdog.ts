import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';

/** What an extraction worker prints to its stderr as it kills itself for using too much memory. */
export const MEMORY_EXCEEDED = 'extraction worker: resident memory over its limit';

/** Past the server's own time limit, which answers the document's uploader; this only catches a server that could not kill the process. */
const BACKSTOP_GRACE_MS = 2000;

// A thread of its own: parsing can hold the main thread for seconds in one synchronous decode (or
// in promise chains that never let a timer run). It writes to the stderr file directly, as
// process.stderr goes through the main thread.
const WATCH = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const deadline = new Float64Array(workerData.deadline);
setInterval(() => {
  if (process.memoryUsage.rss() > workerData.limit) {
    writeSync(2, workerData.marker + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
  // The server is gone (this process was re-parented) or the job's time is up: nobody will kill it.
  if (process.ppid !== workerData.parent || Date.now() > deadline[0]) process.kill(process.pid, 'SIGKILL');
}, 25);
`;

/**
 * Ends an extraction process from a thread of its own: once its resident memory passes twice its
 * heap limit (the heap limit does not bound buffers outside the heap: pdf.js inflates a compressed
 * stream into one buffer however large it gets, and a 1 MB PDF can take gigabytes), once the
 * server that started it is gone, and once a job runs past its time.
 */
export class Watchdog {
  /** The current job's deadline (epoch ms), shared with the thread: read however busy this one is. */
  private readonly deadline = new Float64Array(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT)).fill(Infinity);

  constructor(memoryLimitBytes = 2 * getHeapStatistics().heap_size_limit) {
    const workerData = { limit: memoryLimitBytes, marker: MEMORY_EXCEEDED, parent: process.ppid, deadline: this.deadline.buffer };
    new Worker(WATCH, { eval: true, workerData }).unref();
  }

  /** A job starts with `timeoutMs` (none: no time limit of its own). */
  arm(timeoutMs: number | undefined): void {
    this.deadline[0] = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs + BACKSTOP_GRACE_MS;
  }

  disarm(): void {
    this.deadline[0] = Infinity;
  }
}
