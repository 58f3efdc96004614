/**
 * Preloaded into a server under test (NODE_OPTIONS="--expose-gc --import <this file>", with
 * BENCH_HEAP_PORT set): answers on that port with the heap after a full collection, so that every
 * server's heap is read the same way and garbage not yet collected is not counted as held.
 */
import { createServer } from 'node:http';

const port = Number(process.env.BENCH_HEAP_PORT);
if (port) {
  const server = createServer((_request, response) => {
    globalThis.gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heapUsed, rss }));
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
