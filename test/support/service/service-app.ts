import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { RunScheduler } from '../../../src/agent/run-scheduler.service.js';
import type { RunEntity } from '../../../src/agent/run.entity.js';
import { RunsRepository } from '../../../src/agent/runs.repository.js';
import { ModelFactory, type ResolvedModel } from '../../../src/agent/providers/model.factory.js';
import { AppModule } from '../../../src/app.module.js';
import type { AuthUser } from '../../../src/common/auth/auth-user.js';
import { createRootLogger, PinoNestLogger } from '../../../src/common/logging/logger.js';
import { AppConfig } from '../../../src/config/app-config.js';
import type { AgentSettings } from '../../../src/config/agent.config.js';
import { ConversationsService } from '../../../src/conversations/conversations.service.js';
import type { ConversationDto } from '../../../src/conversations/dto/conversation.dto.js';
import type { MessageEntity } from '../../../src/messages/message.entity.js';
import { MessagesRepository } from '../../../src/messages/messages.repository.js';
import { INSTANCE_ID } from '../../../src/realtime/instance.js';
import { RealtimeBus } from '../../../src/realtime/realtime-bus.js';
import { UsersRepository } from '../../../src/users/users.repository.js';
import { createTestDatabase } from '../database.js';
import { BusRecorder } from './conditions.js';
import { type ScriptedCall, ScriptedModel } from './scripted-model.js';

/**
 * The model factory of the service tier: runs get the scripted models the test queued, in order
 * (the builtin agent when none is queued). Refusals of unconfigured providers still apply.
 */
export class ScriptedModels extends ModelFactory {
  private readonly queue: ScriptedModel[] = [];

  /** The next run to ask for a model plays this script. */
  next(...script: ScriptedCall[]): ScriptedModel {
    const model = new ScriptedModel(script);
    this.queue.push(model);
    return model;
  }

  /** Drops the models no run asked for (a test that ended early leaves them). */
  clear(): void {
    this.queue.length = 0;
  }

  override create(choice: ResolvedModel) {
    return this.queue.shift() ?? super.create(choice);
  }
}

export interface ServiceAppOptions {
  env?: Record<string, string>;
  /** false: no scheduler takes queued runs, so that a test can claim and execute them itself. */
  scheduler?: boolean;
}

export interface ServiceApp {
  module: TestingModule;
  config: AppConfig;
  models: ScriptedModels;
  bus: RealtimeBus;
  /** Every bus event since the app started. */
  events: BusRecorder;
  get<T>(type: Type<T>): T;
  user(name?: string): Promise<AuthUser>;
  conversation(owner: AuthUser, agent?: { mode?: 'auto' | 'mention' | 'off' }, participantIds?: string[]): Promise<ConversationDto>;
  /** A user message stored directly (no run is queued for it). */
  userMessage(owner: AuthUser, conversationId: string, content?: string): Promise<MessageEntity>;
  /** A queued run for a message, claimed by this instance as the scheduler would (status running). */
  claimedRun(owner: AuthUser, conversationId: string, content?: string): Promise<RunEntity>;
  /** Changes agent settings for the current test; undone by `reset`. */
  agentSettings(settings: Partial<AgentSettings>): void;
  /** Between tests: the agent settings as configured, no queued models left. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * The whole application in-process, without HTTP or Socket.IO servers: the real modules and
 * repositories on one database for the test file (an in-memory PGlite, or a clone of the
 * migrated template with TEST_DATABASE_URL), the in-process realtime bus, and scripted models.
 */
export async function startServiceApp(options: ServiceAppOptions = {}): Promise<ServiceApp> {
  const database = await createTestDatabase();
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: 'memory://',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...options.env,
  });
  let builder: TestingModuleBuilder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .setLogger(new PinoNestLogger(createRootLogger(config.app)))
    .overrideProvider(ModelFactory)
    .useFactory({ factory: (appConfig: AppConfig) => new ScriptedModels(appConfig), inject: [AppConfig] });
  if (options.scheduler === false) builder = builder.overrideProvider(RunScheduler).useValue({ enqueue: () => undefined });
  const module = await builder.compile();
  const bus = module.get(RealtimeBus);
  const events = new BusRecorder(bus.events$);
  await module.init();

  const get = <T>(type: Type<T>): T => module.get(type, { strict: false });
  const original = { ...config.agent };
  let users = 0;
  const app: ServiceApp = {
    module,
    config,
    models: get(ModelFactory) as ScriptedModels,
    bus,
    events,
    get,
    async user(name = `user${++users}`) {
      const stored = await get(UsersRepository).create({ email: `${name}-${randomUUID()}@example.test`, displayName: name, passwordHash: 'unused' });
      return { id: stored.id, email: stored.email, displayName: stored.displayName, role: 'user', sessionId: randomUUID(), expiresAt: Date.now() + 3_600_000 };
    },
    conversation(owner, agent = { mode: 'auto' }, participantIds) {
      return get(ConversationsService).create(owner, { title: 'service test', agent, ...(participantIds && { participantIds }) });
    },
    async userMessage(owner, conversationId, content = 'Hello') {
      const stored = await get(MessagesRepository).append({ conversationId, role: 'user', authorId: owner.id, content });
      return stored!.message;
    },
    async claimedRun(owner, conversationId, content) {
      const message = await app.userMessage(owner, conversationId, content);
      const runs = get(RunsRepository);
      await runs.create({ conversationId, triggerMessageId: message.id, requestedById: owner.id, provider: config.agent.provider, model: config.agent.model });
      const run = await runs.claimNext(conversationId, INSTANCE_ID);
      if (!run) throw new Error('The run could not be claimed');
      return run;
    },
    agentSettings(settings) {
      Object.assign(config.agent, settings);
    },
    reset() {
      Object.assign(config.agent, original);
      app.models.clear();
    },
    async close() {
      events.stop();
      await module.close();
      await database.drop();
    },
  };
  return app;
}
