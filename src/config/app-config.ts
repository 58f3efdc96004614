import { type AgentSettings, parseAgentSettings } from './agent.config.js';
import { type AppSettings, parseAppSettings } from './app.config.js';
import { type AuthSettings, parseAuthSettings } from './auth.config.js';
import { type DatabaseSettings, parseDatabaseSettings } from './database.config.js';
import { type EmbeddingSettings, parseEmbeddingSettings } from './embedding.config.js';
import type { Env } from './env.js';
import { type LimitSettings, parseLimitSettings } from './limits.config.js';
import { type McpSettings, parseMcpSettings } from './mcp.config.js';
import { parseRedisSettings, type RedisSettings } from './redis.config.js';
import { parseWorkflowsSettings, type WorkflowsSettings } from './workflows.config.js';

/** The validated configuration, injected by type wherever a setting is needed. */
export class AppConfig {
  constructor(
    readonly app: AppSettings,
    readonly database: DatabaseSettings,
    readonly redis: RedisSettings,
    readonly auth: AuthSettings,
    readonly limits: LimitSettings,
    readonly agent: AgentSettings,
    readonly embedding: EmbeddingSettings,
    readonly mcp: McpSettings,
    readonly workflows: WorkflowsSettings,
  ) {}

  /** Throws a ConfigError naming the first invalid variable. */
  static fromEnv(env: Env): AppConfig {
    const app = parseAppSettings(env);
    const agent = parseAgentSettings(env);
    return new AppConfig(
      app,
      parseDatabaseSettings(env),
      parseRedisSettings(env),
      parseAuthSettings(env, app),
      parseLimitSettings(env),
      agent,
      parseEmbeddingSettings(env, agent),
      parseMcpSettings(env),
      parseWorkflowsSettings(env),
    );
  }

  get isProduction(): boolean {
    return this.app.nodeEnv === 'production';
  }
}
