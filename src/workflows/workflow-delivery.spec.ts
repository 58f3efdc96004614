import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RESULT_CHARS } from '../common/tools/external-tool.js';
import { parseWorkflows, type WorkflowSettings } from '../config/workflows.config.js';
import { waitUntil } from '../../test/support/conditions.js';
import { WebhookReceiver } from '../../test/fixtures/webhook-receiver.js';
import { deliver, retryAfterMs, retryDelayMs, type WorkflowCall } from './workflow-delivery.js';

const SECRET = 'whsec-7f3a9c2e5b8d4f1a';
const RETRIES = { maxRetries: 2, retryBaseMs: 10 };

function workflow(url: string, extra: Record<string, unknown> = {}): WorkflowSettings {
  return parseWorkflows({ tickets: { description: 'Opens a ticket', inputSchema: { type: 'object' }, url, secret: SECRET, ...extra } }, 'test')[0]!;
}

function call(overrides: Partial<WorkflowCall> = {}): WorkflowCall {
  return { input: { title: 'Printer on fire' }, conversationId: 'c-1', userId: 'u-1', signal: new AbortController().signal, timeoutMs: 10_000, ...overrides };
}

const json = (status: number, value: unknown) => (_: unknown, res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

/** Streams `bytes` in 64 KiB chunks without declaring a length, until done or the sender goes away. */
function stream(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(65_536, 'a');
  let sent = 0;
  const more = () => {
    while (sent < bytes && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    if (!res.destroyed) res.end();
  };
  more();
}

describe('workflow delivery', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await new WebhookReceiver(SECRET).start();
  });
  afterAll(() => receiver.stop());

  it('posts the signed call and returns a JSON answer', async () => {
    const url = receiver.on('/json', json(200, { ticket: 42 }));
    const before = Date.now();
    await expect(deliver(workflow(url), call(), RETRIES)).resolves.toEqual({ status: 200, json: { ticket: 42 } });
    const [delivery] = receiver.to('/json');
    expect(delivery!.signatureValid).toBe(true);
    expect(delivery!.headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': expect.stringMatching(/^agent-chat-workflows\//) });
    expect(Object.keys(delivery!.body)).toEqual(['workflow', 'input', 'conversationId', 'userId', 'deliveryId', 'timestamp']);
    expect(delivery!.body).toMatchObject({ workflow: 'tickets', input: { title: 'Printer on fire' }, conversationId: 'c-1', userId: 'u-1' });
    expect(delivery!.body.deliveryId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(delivery!.headers['x-workflow-delivery']).toBe(delivery!.body.deliveryId);
    expect(new Date(delivery!.body.timestamp).toISOString()).toBe(delivery!.body.timestamp);
    expect(Date.parse(delivery!.body.timestamp)).toBeGreaterThanOrEqual(before - 1);
  });

  it('returns other answers as text, an empty one as its status alone, and cuts long ones', async () => {
    const text = receiver.on('/text', (_, res) => res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end('queued as #7 ☕'));
    await expect(deliver(workflow(text), call(), RETRIES)).resolves.toEqual({ status: 202, text: 'queued as #7 ☕' });
    const empty = receiver.on('/empty', (_, res) => res.writeHead(204).end());
    await expect(deliver(workflow(empty), call(), RETRIES)).resolves.toEqual({ status: 204 });
    const long = receiver.on('/long', json(200, { items: 'x'.repeat(100_000) }));
    const output = await deliver(workflow(long), call(), RETRIES);
    expect(output).toMatchObject({ status: 200, truncated: true });
    expect(output.text).toHaveLength(MAX_RESULT_CHARS);
    expect(output.text!.startsWith('{"items":"xxx')).toBe(true);
  });

  it('retries a 500 with the same delivery id and a fresh signature', async () => {
    let calls = 0;
    const url = receiver.on('/flaky', (delivery, res) => (++calls === 1 ? res.writeHead(500).end('try again') : json(200, { ok: true })(delivery, res)));
    await expect(deliver(workflow(url), call(), RETRIES)).resolves.toEqual({ status: 200, json: { ok: true } });
    const attempts = receiver.to('/flaky');
    expect(attempts).toHaveLength(2);
    expect(attempts.every((attempt) => attempt.signatureValid)).toBe(true);
    expect(attempts[1]!.body.deliveryId).toBe(attempts[0]!.body.deliveryId);
    expect(attempts[1]!.headers['x-workflow-delivery']).toBe(attempts[0]!.body.deliveryId);
  });

  it('gives up after the retries with the status and the start of the body', async () => {
    const url = receiver.on('/down', (_, res) => res.writeHead(503).end(`overloaded ${'.'.repeat(1000)}`));
    await expect(deliver(workflow(url), call(), RETRIES)).rejects.toThrow(/^Workflow tickets answered HTTP 503: overloaded \.+ \(3 attempts\)$/);
    expect(receiver.to('/down')).toHaveLength(3);
    const error = await deliver(workflow(url), call(), { maxRetries: 0, retryBaseMs: 10 }).catch((e: Error) => e);
    expect((error as Error).message.length).toBeLessThan(400);
  });

  it('does not retry a 404, and never puts the secret in the error', async () => {
    const url = receiver.on('/gone', (_, res) => res.writeHead(404).end(`no such hook (you sent ${SECRET})`));
    await expect(deliver(workflow(url), call(), RETRIES)).rejects.toThrow('Workflow tickets answered HTTP 404: no such hook (you sent [redacted])');
    expect(receiver.to('/gone')).toHaveLength(1);
  });

  it('waits as long as a 429 Retry-After asks, and gives up at once when that is past the time limit', async () => {
    let calls = 0;
    const url = receiver.on('/busy', (delivery, res) => (++calls === 1 ? res.writeHead(429, { 'retry-after': '1' }).end() : json(200, { done: true })(delivery, res)));
    await expect(deliver(workflow(url), call(), RETRIES)).resolves.toEqual({ status: 200, json: { done: true } });
    const [first, second] = receiver.to('/busy');
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(990);
    const later = receiver.on('/later', (_, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const started = Date.now();
    await expect(deliver(workflow(later, { timeoutMs: 5000 }), call(), RETRIES)).rejects.toThrow(/HTTP 429 \(1 attempt; no time left to retry\)/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(receiver.to('/later')).toHaveLength(1);
  });

  it('stops a receiver slower than the time limit, which sees the connection close', async () => {
    const url = receiver.on('/slow', () => undefined);
    const started = Date.now();
    await expect(deliver(workflow(url, { timeoutMs: 300 }), call(), RETRIES)).rejects.toThrow('Workflow tickets did not answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(2000);
    await waitUntil(() => receiver.to('/slow')[0]?.abandoned, 'the receiver to see the connection close');
    expect(receiver.to('/slow')).toHaveLength(1);
  });

  it('keeps to the call time limit when it is the shorter one', async () => {
    const url = receiver.on('/slow-call', () => undefined);
    await expect(deliver(workflow(url, { timeoutMs: 60_000 }), call({ timeoutMs: 200 }), RETRIES)).rejects.toThrow('did not answer within 200 ms');
  });

  it('refuses a redirect without following it', async () => {
    const target = receiver.on('/target', json(200, { ok: true }));
    const url = receiver.on('/moved', (_, res) => res.writeHead(302, { location: target }).end());
    await expect(deliver(workflow(url), call(), RETRIES)).rejects.toThrow('Workflow tickets answered with a redirect (HTTP 302), which is not followed');
    expect(receiver.to('/moved')).toHaveLength(1);
    expect(receiver.to('/target')).toHaveLength(0);
  });

  it('stops reading a 10 MB answer at 256 KiB, declared or streamed', async () => {
    const declared = receiver.on('/huge', (_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.alloc(10_485_760, 'a')));
    await expect(deliver(workflow(declared), call(), RETRIES)).rejects.toThrow('Workflow tickets answered with more than 256 KiB; the answer was not read');
    const streamed = receiver.on('/huge-stream', (_, res) => stream(res, 10_485_760));
    await expect(deliver(workflow(streamed), call(), RETRIES)).rejects.toThrow('answered with more than 256 KiB');
    await waitUntil(() => receiver.to('/huge-stream')[0]?.abandoned, 'the streaming receiver to see the connection close');
    expect(receiver.to('/huge-stream')).toHaveLength(1);
  });

  it('reports an answer that does not match the response schema', async () => {
    const url = receiver.on('/shape', json(200, { ticket: 'forty-two' }));
    const settings = workflow(url, { responseSchema: { type: 'object', properties: { ticket: { type: 'integer' } }, required: ['ticket'] } });
    await expect(deliver(settings, call(), RETRIES)).rejects.toThrow('Workflow tickets answered with a response that does not match its responseSchema: /ticket: must be integer');
  });

  it('stops when the call is aborted, mid-request or while waiting to retry', async () => {
    const url = receiver.on('/hang', () => undefined);
    const controller = new AbortController();
    const pending = deliver(workflow(url), call({ signal: controller.signal }), RETRIES);
    await waitUntil(() => receiver.to('/hang').length === 1, 'the delivery to arrive');
    controller.abort();
    await expect(pending).rejects.toThrow('The call of workflow tickets was cancelled');
    await waitUntil(() => receiver.to('/hang')[0]?.abandoned, 'the receiver to see the connection close');

    const busy = receiver.on('/busy-long', (_, res) => res.writeHead(503, { 'retry-after': '3' }).end());
    const waiting = new AbortController();
    const retrying = deliver(workflow(busy), call({ signal: waiting.signal }), RETRIES);
    await waitUntil(() => receiver.to('/busy-long').length === 1, 'the first attempt');
    const aborted = Date.now();
    waiting.abort();
    await expect(retrying).rejects.toThrow('was cancelled');
    expect(Date.now() - aborted).toBeLessThan(500);
    expect(receiver.to('/busy-long')).toHaveLength(1);

    await expect(deliver(workflow(url), call({ signal: AbortSignal.abort() }), RETRIES)).rejects.toThrow('was cancelled');
    expect(receiver.to('/hang')).toHaveLength(1);
  });

  it('retries an answer cut off mid-way, as it retries a network failure', async () => {
    const cut = (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial": ', () => res.destroy());
    };
    let calls = 0;
    const url = receiver.on('/cut', (delivery, res) => (++calls === 1 ? cut(res) : json(200, { whole: true })(delivery, res)));
    await expect(deliver(workflow(url), call(), RETRIES)).resolves.toEqual({ status: 200, json: { whole: true } });
    expect(receiver.to('/cut')).toHaveLength(2);
    const always = receiver.on('/always-cut', (_, res) => cut(res));
    await expect(deliver(workflow(always), call(), { maxRetries: 0, retryBaseMs: 10 })).rejects.toThrow('The answer of workflow tickets was cut off (UND_ERR_SOCKET)');
  });

  it('retries a receiver that cannot be reached, then says so', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(deliver(workflow(`http://127.0.0.1:${port}/hook`), call(), RETRIES)).rejects.toThrow('Workflow tickets could not be reached (ECONNREFUSED) (3 attempts)');
  });
});

describe('retry timing', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 31 Dec 2029 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('doubles the wait on each retry, with jitter, never below what the receiver asked', () => {
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const step = 100 * 2 ** (attempt - 1);
      const delay = retryDelayMs(attempt, 100);
      expect(delay).toBeGreaterThanOrEqual(step / 2);
      expect(delay).toBeLessThanOrEqual(step);
    }
    expect(retryDelayMs(1, 100, 5000)).toBe(5000);
  });
});
