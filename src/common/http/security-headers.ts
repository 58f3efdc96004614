import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';

/** Headers of the probe's own response, not helmet's. */
const PROBE_HEADERS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * The headers @fastify/helmet sets with these options, read once from a throwaway instance.
 * The plugin rebuilds helmet's middleware (parsing every CSP directive again) on each request;
 * with one global configuration and no nonces the result never changes, so the service sets
 * the same headers from this table instead.
 */
export async function securityHeaders(options: FastifyHelmetOptions): Promise<Readonly<Record<string, string>>> {
  const probe = Fastify({ logger: false });
  try {
    await probe.register(helmet, options);
    probe.get('/', (_request, reply) => reply.send(''));
    const response = await probe.inject({ method: 'GET', url: '/' });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (!PROBE_HEADERS.has(name) && value !== undefined) headers[name] = String(value);
    }
    return Object.freeze(headers);
  } finally {
    await probe.close();
  }
}
