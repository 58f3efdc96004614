import { ConfigError, type Env, readEnum, readInt, readSecret, readString, readUrl } from './env.js';

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
  return {
    provider,
    model,
    defaultModels: { ...DEFAULT_MODELS, [provider]: model },
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
    checkpointMs: readInt(env, 'AGENT_CHECKPOINT_MS', 1000, { min: 50, max: 60_000 }),
    deltaIntervalMs: readInt(env, 'AGENT_DELTA_INTERVAL_MS', 33, { min: 0, max: 1000 }),
    heartbeatTimeoutMs: readInt(env, 'AGENT_HEARTBEAT_TIMEOUT_MS', 15_000, { min: 6000, max: 600_000 }),
    dailyTokens: readInt(env, 'AGENT_DAILY_TOKENS', undefined, { min: 1, max: Number.MAX_SAFE_INTEGER }),
    dailyRuns: readInt(env, 'AGENT_DAILY_RUNS', undefined, { min: 1, max: 1_000_000_000 }),
  };
}
