import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { Injectable, Logger } from '@nestjs/common';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { type AgentProviderName, agentChoiceErrors, allowedModelsOf, isProviderConfigured } from '../../config/agent.config.js';
import { AppConfig } from '../../config/app-config.js';
import { BuiltinModel } from './builtin.model.js';

/** The provider or model cannot be used as configured; the message says why and what to set. */
export class ModelUnavailableError extends Error {
  constructor(
    readonly code: 'PROVIDER_NOT_CONFIGURED' | 'MODEL_NOT_ALLOWED',
    message: string,
  ) {
    super(message);
  }
}

const SETUP_HINTS: Record<AgentProviderName, string> = {
  builtin: '',
  openai: 'The openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL pointing at a local OpenAI-compatible server such as Ollama)',
  anthropic: 'The anthropic provider needs ANTHROPIC_API_KEY',
};

export interface ResolvedModel {
  provider: AgentProviderName;
  model: string;
}

/** Turns a conversation's provider/model choice (or the server default) into a language model. */
@Injectable()
export class ModelFactory {
  private readonly logger = new Logger('ModelFactory');
  private readonly retiredChoicesSeen = new Set<string>();

  constructor(private readonly config: AppConfig) {}

  /**
   * The provider and model a run will use: the conversation's choice, else the server's. A choice
   * stored before the operator narrowed what is allowed runs on the server default instead.
   */
  resolve(provider: string | null, model: string | null): ResolvedModel {
    const agent = this.config.agent;
    if (agentChoiceErrors(agent, provider, model)) {
      const choice = `${provider ?? 'default'}/${model ?? 'default'}`;
      // Once per choice, not on every run of every conversation that still has it.
      if ((provider !== null || model !== null) && !this.retiredChoicesSeen.has(choice)) {
        this.retiredChoicesSeen.add(choice);
        this.logger.warn(`Agent choice ${choice} is no longer allowed; using the server default`);
      }
      return { provider: agent.provider, model: agent.model };
    }
    const chosen = (provider ?? agent.provider) as AgentProviderName;
    return { provider: chosen, model: model ?? agent.defaultModels[chosen] };
  }

  /** Refuses what the operator has not set up or allowed (a run queued before a change too). */
  create({ provider, model }: ResolvedModel): LanguageModelV3 {
    const agent = this.config.agent;
    if (!isProviderConfigured(agent, provider)) throw new ModelUnavailableError('PROVIDER_NOT_CONFIGURED', SETUP_HINTS[provider]);
    if (!allowedModelsOf(agent, provider).includes(model)) {
      throw new ModelUnavailableError('MODEL_NOT_ALLOWED', `The model ${model} is not among AGENT_ALLOWED_MODELS for ${provider}`);
    }
    switch (provider) {
      case 'builtin':
        return new BuiltinModel(model);
      case 'openai':
        return createOpenAICompatible({
          name: 'openai',
          baseURL: agent.openaiBaseUrl,
          ...(agent.openaiApiKey && { apiKey: agent.openaiApiKey }),
          includeUsage: true,
        }).chatModel(model);
      case 'anthropic':
        return createAnthropic({ apiKey: agent.anthropicApiKey, baseURL: agent.anthropicBaseUrl })(model);
    }
  }
}
