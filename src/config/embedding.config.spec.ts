import { describe, expect, it } from 'vitest';
import { AppConfig } from './app-config.js';
import { ConfigError } from './env.js';

const base = { DATA_DIR: 'memory://' };

describe('embedding settings', () => {
  it('leave retrieval to full-text search unless a model is set', () => {
    expect(AppConfig.fromEnv(base).embedding).toMatchObject({ model: undefined, dimensions: undefined, batchSize: 64 });
  });

  it('default to the OpenAI endpoint and key of the agent', () => {
    const config = AppConfig.fromEnv({ ...base, EMBEDDING_MODEL: 'text-embedding-3-small', OPENAI_BASE_URL: 'http://localhost:11434/v1/', OPENAI_API_KEY: 'sk-agent' });
    expect(config.embedding).toMatchObject({ model: 'text-embedding-3-small', baseUrl: 'http://localhost:11434/v1', apiKey: 'sk-agent' });
  });

  it('take an endpoint, a key and dimensions of their own', () => {
    const config = AppConfig.fromEnv({
      ...base,
      EMBEDDING_MODEL: 'm',
      OPENAI_API_KEY: 'sk-agent',
      EMBEDDING_BASE_URL: 'https://embeddings.example.com/v1',
      EMBEDDING_API_KEY: 'sk-embeddings',
      EMBEDDING_DIMENSIONS: '512',
      EMBEDDING_BATCH_SIZE: '16',
    });
    expect(config.embedding).toMatchObject({ baseUrl: 'https://embeddings.example.com/v1', apiKey: 'sk-embeddings', dimensions: 512, batchSize: 16 });
  });

  it.each([
    [{ EMBEDDING_DIMENSIONS: '0' }, /EMBEDDING_DIMENSIONS/],
    [{ EMBEDDING_DIMENSIONS: '16001' }, /EMBEDDING_DIMENSIONS/],
    [{ EMBEDDING_BATCH_SIZE: 'many' }, /EMBEDDING_BATCH_SIZE/],
    [{ EMBEDDING_BASE_URL: 'ftp://example.com' }, /EMBEDDING_BASE_URL/],
    [{ EMBEDDING_MODEL: 'm'.repeat(201) }, /EMBEDDING_MODEL/],
    [{ EMBEDDING_QUERY_TIMEOUT_MS: '10' }, /EMBEDDING_QUERY_TIMEOUT_MS/],
  ])('refuse %o', (env, message) => {
    expect(() => AppConfig.fromEnv({ ...base, ...env })).toThrow(ConfigError);
    expect(() => AppConfig.fromEnv({ ...base, ...env })).toThrow(message);
  });

  it('never echo the key in an error', () => {
    expect(() => AppConfig.fromEnv({ ...base, EMBEDDING_API_KEY: 'sk-secret', EMBEDDING_BASE_URL: 'not a url' })).toThrow(/^((?!sk-secret).)*$/);
  });
});
