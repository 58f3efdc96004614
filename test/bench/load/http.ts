/** HTTP load with autocannon against one URL for a fixed time. */
import autocannon from 'autocannon';
import { params } from '../lib.js';

interface Params {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  durationSeconds: number;
  /** Each request asks for a page before a random seq in [min, max] (appended to the URL's query): pages no cache holds. */
  beforeSeqs?: { min: number; max: number };
}

const p = params<Params>();
const { pathname, search } = new URL(p.url);
const range = p.beforeSeqs;
const result = await autocannon({
  ...(range && {
    requests: [
      {
        setupRequest: (request: autocannon.Request) => ({
          ...request,
          path: `${pathname}${search}&beforeSeq=${range.min + Math.floor(Math.random() * (range.max - range.min + 1))}`,
        }),
      },
    ],
  }),
  url: p.url,
  method: p.method,
  headers: p.headers,
  ...(p.body && { body: p.body }),
  connections: p.connections,
  duration: p.durationSeconds,
});
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }),
);
