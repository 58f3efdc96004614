import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI, fakeEmbedding } from '../fixtures/fake-openai.js';
import { AppConfig } from '../../src/config/app-config.js';
import { EmbeddingClient, EmbeddingError } from '../../src/documents/embeddings/embedding-client.js';

const KEY = 'sk-client-secret-42';

describe('EmbeddingClient', () => {
  let fake: FakeOpenAI;
  const client = (env: Record<string, string> = {}) =>
    new EmbeddingClient(AppConfig.fromEnv({ DATA_DIR: 'memory://', EMBEDDING_MODEL: 'fake', EMBEDDING_BASE_URL: fake.url, EMBEDDING_API_KEY: KEY, EMBEDDING_MAX_RETRIES: '2', ...env }));
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.unreachable('the call should fail'), (error: unknown) => error as EmbeddingError);

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
  });
  beforeEach(() => {
    fake.embeddings.requests.length = 0;
    fake.embeddings.behaviour = { kind: 'ok' };
  });
  afterAll(() => fake?.stop());

  it('embeds texts in order with the key, the model and the dimensions asked for', async () => {
    const vectors = await client({ EMBEDDING_DIMENSIONS: '32' }).embed(['one car', 'two boats'], { timeoutMs: 5000 });
    expect(vectors).toEqual([fakeEmbedding('one car', 'fake', 32), fakeEmbedding('two boats', 'fake', 32)]);
    expect(fake.embeddings.requests).toHaveLength(1);
    expect(fake.embeddings.requests[0]!.body).toMatchObject({ model: 'fake', input: ['one car', 'two boats'], dimensions: 32 });
    expect(fake.embeddings.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('asks for the model’s own dimensions unless some are configured', async () => {
    await client().embed(['x'], { timeoutMs: 5000 });
    expect(fake.embeddings.requests[0]!.body.dimensions).toBeUndefined();
  });

  it('retries 429 and 5xx, as long as the endpoint asks', async () => {
    fake.embeddings.behaviour = { kind: 'status', status: 429, headers: { 'retry-after-ms': '1' }, times: 2 };
    expect(await client().embed(['x'], { timeoutMs: 5000 })).toHaveLength(1);
    expect(fake.embeddings.requests).toHaveLength(3);

    fake.embeddings.requests.length = 0;
    fake.embeddings.behaviour = { kind: 'status', status: 503, headers: { 'retry-after-ms': '1' } };
    const error = await failure(client().embed(['x'], { timeoutMs: 5000 }));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect(error).toMatchObject({ status: 503, refusedInput: false });
    expect(error.reason).toMatch(/^HTTP 503: /);
    expect(fake.embeddings.requests).toHaveLength(3);
  });

  it('does not retry an input the endpoint refuses', async () => {
    fake.embeddings.refuse = () => true;
    try {
      const error = await failure(client().embed(['x'], { timeoutMs: 5000 }));
      expect(error).toMatchObject({ status: 400, refusedInput: true });
      expect(fake.embeddings.requests).toHaveLength(1);
    } finally {
      fake.embeddings.refuse = undefined;
    }
  });

  it('gives up at the time limit', async () => {
    fake.embeddings.behaviour = { kind: 'slow', delayMs: 5000 };
    const started = Date.now();
    const error = await failure(client().embed(['x'], { timeoutMs: 100 }));
    expect(error.reason).toBe('no answer within 100 ms');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops when the caller aborts (shutdown)', async () => {
    fake.embeddings.behaviour = { kind: 'slow', delayMs: 5000 };
    const stop = new AbortController();
    const pending = failure(client().embed(['x'], { timeoutMs: 10_000, signal: stop.signal }));
    await expect.poll(() => fake.embeddings.requests.length).toBe(1);
    stop.abort();
    expect(await pending).toBeInstanceOf(EmbeddingError);
  });

  it('never puts the key in a reason, even when the endpoint echoes it', async () => {
    fake.embeddings.behaviour = { kind: 'status', status: 401, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.` } }) };
    const error = await failure(client().embed(['x'], { timeoutMs: 5000 }));
    expect(error.reason).toBe('HTTP 401: Incorrect API key provided: [redacted].');
  });

  it('refuses an answer that does not fit the texts or the dimensions', async () => {
    const answer = (embeddings: number[][]) =>
      JSON.stringify({ object: 'list', data: embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })), usage: { prompt_tokens: 1, total_tokens: 1 } });
    fake.embeddings.behaviour = { kind: 'status', status: 200, body: answer([[1, 0]]) };
    expect((await failure(client().embed(['a', 'b'], { timeoutMs: 5000 }))).reason).toBe('The endpoint returned 1 embeddings for 2 texts');
    fake.embeddings.behaviour = { kind: 'status', status: 200, body: answer([[1, 0], [1, 0, 0]]) };
    expect((await failure(client().embed(['a', 'b'], { timeoutMs: 5000 }))).reason).toBe('The endpoint returned an embedding of 3 dimensions, expected 2');
    fake.embeddings.behaviour = { kind: 'status', status: 200, body: answer([[1, 0]]) };
    expect((await failure(client({ EMBEDDING_DIMENSIONS: '4' }).embed(['a'], { timeoutMs: 5000 }))).reason).toBe('The endpoint returned an embedding of 2 dimensions, expected 4');
    fake.embeddings.behaviour = { kind: 'status', status: 200, body: answer([[]]) };
    expect((await failure(client().embed(['a'], { timeoutMs: 5000 }))).reason).toBe('The endpoint returned an embedding of 0 dimensions, expected at least one');
  });
});
