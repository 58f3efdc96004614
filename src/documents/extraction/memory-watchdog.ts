import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';

/** What an extraction worker prints to its stderr as it kills itself for using too much memory. */
export const MEMORY_EXCEEDED = 'extraction worker: resident memory over its limit';

// A thread of its own, as the main thread may be held for seconds in one synchronous decode.
// It writes to the stderr file directly: process.stderr goes through the main thread.
const WATCH = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
setInterval(() => {
  if (process.memoryUsage.rss() <= workerData.limit) return;
  writeSync(2, workerData.marker + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 25);
`;

/**
 * Kills this process once its resident memory passes twice its heap limit. The heap limit does not
 * bound buffers outside the heap: pdf.js inflates a compressed stream into one buffer however large
 * it gets, and a 1 MB PDF can take gigabytes.
 */
export function watchMemory(limitBytes = 2 * getHeapStatistics().heap_size_limit): void {
  new Worker(WATCH, { eval: true, workerData: { limit: limitBytes, marker: MEMORY_EXCEEDED } }).unref();
}
