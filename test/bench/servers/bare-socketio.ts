/** Baseline for idle connections and start-up: a bare socket.io server (no auth, no database). */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const http = createServer((request, response) => {
  if (request.url === '/heap') {
    globalThis.gc?.();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heapUsed: process.memoryUsage().heapUsed }));
    return;
  }
  response.writeHead(request.url === '/ready' ? 200 : 404).end();
});
const io = new Server(http, { maxHttpBufferSize: 64 * 1024 });
io.on('connection', (socket) => {
  socket.on('join', async ({ room }: { room: string }, ack: (r: unknown) => void) => {
    await socket.join(room);
    ack({ ok: true });
  });
});
http.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  io.close();
  process.exit(0);
});
