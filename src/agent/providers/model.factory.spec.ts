import { describe, expect, it } from 'vitest';
import { AppConfig } from '../../config/app-config.js';
import { ModelFactory, ModelUnavailableError } from './model.factory.js';

const factory = (env: Record<string, string> = {}) => new ModelFactory(AppConfig.fromEnv({ NODE_ENV: 'test', DATA_DIR: 'memory://', ...env }));
const openai = { AGENT_PROVIDER: 'openai', AGENT_MODEL: 'small', OPENAI_API_KEY: 'sk-test' };

function refusal(create: () => unknown): string | undefined {
  try {
    create();
  } catch (error) {
    if (error instanceof ModelUnavailableError) return error.code;
    throw error;
  }
  return undefined;
}

describe('ModelFactory', () => {
  it('allows only the configured model by default, and the builtin agent only itself', () => {
    const models = factory(openai);
    expect(models.resolve(null, null)).toEqual({ provider: 'openai', model: 'small' });
    expect(models.resolve('openai', 'small')).toEqual({ provider: 'openai', model: 'small' });
    expect(models.resolve('builtin', null)).toEqual({ provider: 'builtin', model: 'builtin' });
    expect(refusal(() => models.create({ provider: 'openai', model: 'small' }))).toBeUndefined();
    expect(refusal(() => models.create({ provider: 'openai', model: 'large' }))).toBe('MODEL_NOT_ALLOWED');
    expect(refusal(() => models.create({ provider: 'builtin', model: 'large' }))).toBe('MODEL_NOT_ALLOWED');
    expect(factory().resolve(null, null)).toEqual({ provider: 'builtin', model: 'builtin' });
  });

  it('runs a choice that is no longer allowed, or names an unconfigured provider, on the server default', () => {
    const models = factory({ ...openai, AGENT_ALLOWED_MODELS: 'large, medium' });
    expect(models.resolve('openai', 'large')).toEqual({ provider: 'openai', model: 'large' });
    expect(models.resolve(null, 'retired')).toEqual({ provider: 'openai', model: 'small' });
    expect(models.resolve('anthropic', 'large')).toEqual({ provider: 'openai', model: 'small' });
    expect(models.resolve('nonsense', null)).toEqual({ provider: 'openai', model: 'small' });
  });

  it('refuses a run on a provider the operator has not set up, saying what to set', () => {
    const models = factory({ AGENT_PROVIDER: 'openai', AGENT_MODEL: 'small' });
    expect(refusal(() => models.create({ provider: 'openai', model: 'small' }))).toBe('PROVIDER_NOT_CONFIGURED');
    expect(() => models.create({ provider: 'openai', model: 'small' })).toThrow(/OPENAI_API_KEY/);
    expect(refusal(() => factory({ ...openai, AGENT_ALLOWED_MODELS: 'claude' }).create({ provider: 'anthropic', model: 'claude' }))).toBe('PROVIDER_NOT_CONFIGURED');
  });

  it('ties a `provider:model` entry to that provider, and the configured model to its own provider', () => {
    const models = factory({ ...openai, ANTHROPIC_API_KEY: 'sk-ant', AGENT_ALLOWED_MODELS: 'anthropic:claude-x, openai:llama3.1:8b, shared' });
    expect(models.resolve('anthropic', 'claude-x')).toEqual({ provider: 'anthropic', model: 'claude-x' });
    expect(models.resolve('openai', 'llama3.1:8b')).toEqual({ provider: 'openai', model: 'llama3.1:8b' });
    expect(models.resolve('anthropic', 'shared')).toEqual({ provider: 'anthropic', model: 'shared' });
    expect(models.resolve('openai', 'shared')).toEqual({ provider: 'openai', model: 'shared' });
    // Not across providers: the operator allowed claude-x for anthropic, and small (AGENT_MODEL) for openai.
    expect(refusal(() => models.create({ provider: 'openai', model: 'claude-x' }))).toBe('MODEL_NOT_ALLOWED');
    expect(refusal(() => models.create({ provider: 'anthropic', model: 'small' }))).toBe('MODEL_NOT_ALLOWED');
    expect(refusal(() => models.create({ provider: 'anthropic', model: 'claude-x' }))).toBeUndefined();
  });
});
