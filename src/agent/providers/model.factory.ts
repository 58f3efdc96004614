import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { Injectable } from '@nestjs/common';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { AGENT_PROVIDERS, type AgentProviderName } from '../../config/agent.config.js';
import { AppConfig } from '../../config/app-config.js';
import { BuiltinModel } from './builtin.model.js';

/** The provider cannot be used as configured; the message says what to set. */
export class ProviderNotConfiguredError extends Error {}

export interface ResolvedModel {
  provider: AgentProviderName;
  model: string;
}

/** Turns a conversation's provider/model choice (or the server default) into a language model. */
@Injectable()
export class ModelFactory {
  constructor(private readonly config: AppConfig) {}

  /** The provider and model a run will use: the conversation's choice, else the server's. */
  resolve(provider: string | null, model: string | null): ResolvedModel {
    const agent = this.config.agent;
    const chosen = (AGENT_PROVIDERS as readonly string[]).includes(provider ?? '') ? (provider as AgentProviderName) : agent.provider;
    return { provider: chosen, model: model ?? agent.defaultModels[chosen] };
  }

  create({ provider, model }: ResolvedModel): LanguageModelV3 {
    const agent = this.config.agent;
    switch (provider) {
      case 'builtin':
        return new BuiltinModel(model);
      case 'openai': {
        if (!agent.openaiApiKey && agent.openaiBaseUrl.includes('api.openai.com')) {
          throw new ProviderNotConfiguredError(
            'The openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL pointing at a local OpenAI-compatible server such as Ollama)',
          );
        }
        return createOpenAICompatible({
          name: 'openai',
          baseURL: agent.openaiBaseUrl,
          ...(agent.openaiApiKey && { apiKey: agent.openaiApiKey }),
          includeUsage: true,
        }).chatModel(model);
      }
      case 'anthropic':
        if (!agent.anthropicApiKey) throw new ProviderNotConfiguredError('The anthropic provider needs ANTHROPIC_API_KEY');
        return createAnthropic({ apiKey: agent.anthropicApiKey, baseURL: agent.anthropicBaseUrl })(model);
    }
  }
}
