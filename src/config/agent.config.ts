import { ConfigError, type Env, readEnum, readInt, readList, readSecret, readString, readUrl } from './env.js';

export const AGENT_PROVIDERS = ['builtin', 'openai', 'anthropic'] as const;
export type AgentProviderName = (typeof AGENT_PROVIDERS)[number];

const DEFAULT_MODELS: Record<AgentProviderName, string> = {
  builtin: 'builtin',
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
};

export interface AgentSettings {
  provider: AgentProviderName;
  /** The model when a conversation names none (per provider when the conversation picks another provider). */
  model: string;
  defaultModels: Record<AgentProviderName, string>;
  /**
   * Models a conversation may pick (AGENT_ALLOWED_MODELS, AGENT_MODEL always among them): each one
   * spends the operator's key. `provider:model` allows it for that provider only, `model` for any.
   */
  allowedModels: string[];
  openaiBaseUrl: string;
  openaiApiKey: string | undefined;
  anthropicApiKey: string | undefined;
  anthropicBaseUrl: string;
  contextTokens: number;
  maxSteps: number;
  maxRetries: number;
  retryBaseMs: number;
  runTimeoutMs: number;
  idleTimeoutMs: number;
  toolTimeoutMs: number;
  /** How long a tool call waits for a person's approval; undecided by then, it is denied as expired. */
  approvalTtlMs: number;
  checkpointMs: number;
  /** Deltas are coalesced to at most one frame per this interval per stream (0: one per token). */
  deltaIntervalMs: number;
  /** A running run whose instance has not heartbeated for this long is marked interrupted. */
  heartbeatTimeoutMs: number;
  dailyTokens: number | undefined;
  dailyRuns: number | undefined;
}

export function parseAgentSettings(env: Env): AgentSettings {
  const provider = readEnum(env, 'AGENT_PROVIDER', AGENT_PROVIDERS, 'builtin');
  const model = readString(env, 'AGENT_MODEL', DEFAULT_MODELS[provider]);
  if (model.length > 200) throw new ConfigError('Invalid environment variable AGENT_MODEL: longer than 200 characters');
  const allowedModels = [...new Set([`${provider}:${model}`, ...readList(env, 'AGENT_ALLOWED_MODELS')])];
  if (allowedModels.some((name) => name.length > 200)) throw new ConfigError('Invalid environment variable AGENT_ALLOWED_MODELS: a model name is longer than 200 characters');
  return {
    provider,
    model,
    defaultModels: { ...DEFAULT_MODELS, [provider]: model },
    allowedModels,
    openaiBaseUrl: (readUrl(env, 'OPENAI_BASE_URL', ['http:', 'https:']) ?? 'https://api.openai.com/v1').replace(/\/$/, ''),
    openaiApiKey: readSecret(env, 'OPENAI_API_KEY'),
    anthropicApiKey: readSecret(env, 'ANTHROPIC_API_KEY'),
    anthropicBaseUrl: (readUrl(env, 'ANTHROPIC_BASE_URL', ['http:', 'https:']) ?? 'https://api.anthropic.com/v1').replace(/\/$/, ''),
    contextTokens: readInt(env, 'AGENT_CONTEXT_TOKENS', 8000, { min: 256, max: 2_000_000 }),
    maxSteps: readInt(env, 'AGENT_MAX_STEPS', 5, { min: 1, max: 50 }),
    maxRetries: readInt(env, 'AGENT_MAX_RETRIES', 3, { min: 0, max: 10 }),
    retryBaseMs: readInt(env, 'AGENT_RETRY_BASE_MS', 500, { min: 1, max: 60_000 }),
    runTimeoutMs: readInt(env, 'AGENT_RUN_TIMEOUT_MS', 180_000, { min: 1000, max: 3_600_000 }),
    idleTimeoutMs: readInt(env, 'AGENT_IDLE_TIMEOUT_MS', 60_000, { min: 100, max: 600_000 }),
    toolTimeoutMs: readInt(env, 'AGENT_TOOL_TIMEOUT_MS', 10_000, { min: 10, max: 300_000 }),
    approvalTtlMs: readInt(env, 'APPROVAL_TTL_MS', 3_600_000, { min: 1000, max: 30 * 24 * 3_600_000 }),
    checkpointMs: readInt(env, 'AGENT_CHECKPOINT_MS', 1000, { min: 50, max: 60_000 }),
    deltaIntervalMs: readInt(env, 'AGENT_DELTA_INTERVAL_MS', 33, { min: 0, max: 1000 }),
    heartbeatTimeoutMs: readInt(env, 'AGENT_HEARTBEAT_TIMEOUT_MS', 15_000, { min: 6000, max: 600_000 }),
    dailyTokens: readInt(env, 'AGENT_DAILY_TOKENS', undefined, { min: 1, max: Number.MAX_SAFE_INTEGER }),
    dailyRuns: readInt(env, 'AGENT_DAILY_RUNS', undefined, { min: 1, max: 1_000_000_000 }),
  };
}

/** Whether the operator set up this provider: the builtin always, the others with their credentials. */
export function isProviderConfigured(settings: AgentSettings, provider: AgentProviderName): boolean {
  switch (provider) {
    case 'builtin':
      return true;
    case 'openai':
      // A local OpenAI-compatible server (Ollama, vLLM…) needs no key; OpenAI itself does.
      return !!settings.openaiApiKey || !settings.openaiBaseUrl.includes('api.openai.com');
    case 'anthropic':
      return !!settings.anthropicApiKey;
  }
}

/**
 * The models a provider may run: the builtin agent only itself, the others what AGENT_ALLOWED_MODELS
 * names for them or for any provider. Model names may contain colons themselves (`llama3.1:8b`):
 * only a provider's name before the first one makes a prefix.
 */
export function allowedModelsOf(settings: AgentSettings, provider: AgentProviderName): string[] {
  if (provider === 'builtin') return [settings.defaultModels.builtin];
  return settings.allowedModels.flatMap((entry) => {
    const colon = entry.indexOf(':');
    const prefix = AGENT_PROVIDERS.find((name) => name === entry.slice(0, colon));
    if (colon < 0 || !prefix) return [entry];
    return prefix === provider ? [entry.slice(colon + 1)] : [];
  });
}

/**
 * Why a conversation may not use this provider and model (null: the server default), per field of
 * its `agent` settings; undefined when it may.
 */
export function agentChoiceErrors(settings: AgentSettings, provider: string | null, model: string | null): Record<string, string[]> | undefined {
  const configured = AGENT_PROVIDERS.filter((name) => isProviderConfigured(settings, name));
  const chosen = configured.find((name) => name === (provider ?? settings.provider));
  if (!chosen) return { 'agent.provider': [`agent.provider must be one of the providers configured here: ${configured.join(', ')}`] };
  const allowed = allowedModelsOf(settings, chosen);
  const resolved = model ?? settings.defaultModels[chosen];
  if (!allowed.includes(resolved)) {
    const which = model === null ? `the default model of ${chosen} (${resolved})` : `${resolved}`;
    return { 'agent.model': [`agent.model ${which} is not allowed here; allowed for ${chosen}: ${allowed.join(', ')}`] };
  }
  return undefined;
}
