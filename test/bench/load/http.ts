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
}

const p = params<Params>();
const result = await autocannon({
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
