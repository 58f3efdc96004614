import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Subscription } from 'rxjs';
import { AGENT_PROVIDERS, allowedModelsOf } from '../config/agent.config.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { isRunEnd, type RealtimeEvent, type RunEndEvent } from '../realtime/realtime.events.js';
import { PROVIDER_ERROR_CODES } from './provider-errors.js';
import type { RunEntity } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';

/** How an execution of a run on this instance ended: the run's end, or its pause for approvals. */
export type ExecutionEnd = 'completed' | 'failed' | 'cancelled' | 'interrupted' | 'awaiting_approval';
const EXECUTION_ENDS: readonly ExecutionEnd[] = ['completed', 'failed', 'cancelled', 'interrupted', 'awaiting_approval'];

/** A model outside the configured ones (allowed once, since removed) is counted under this name. */
const OTHER = 'other';
/**
 * Scrapes within this long of one another share one count of the waiting runs: several scrapers
 * (or a hasty one) cost the database one query per second at most.
 */
const WAITING_CACHE_MS = 1000;
/** A scrape does not wait longer than this for the database: the counts are then unknown (NaN). */
const WAITING_TIMEOUT_MS = 2000;

interface Labels {
  provider: string;
  model: string;
}

/** One run executing here, from its claim to its end or pause. */
interface Execution {
  run: RunEntity;
  labels: Labels;
  /** Executed again after its approvals: its first token and its queueing were measured by its first execution. */
  resumed: boolean;
  started: number;
  ttftMs?: number;
  toolCalls: number;
}

interface Waiting {
  queued: number;
  awaitingApproval: number;
}

function milliseconds(since: number): number {
  return Math.round(performance.now() - since);
}

/**
 * What the runs executed on this instance cost and how they end: Prometheus metrics and one log
 * line per execution. AgentCore says when an execution begins and when the provider is retried;
 * the rest is read from the events AgentCore publishes (first delta, tool calls, the run's end or
 * its approval requests), which reach this instance's bus synchronously. Events of runs executed
 * elsewhere (over Redis) are ignored, so that a cluster's sum counts each execution once.
 */
@Injectable()
export class RunMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Runs');
  private readonly executions = new Map<string, Execution>();
  private subscription: Subscription | undefined;
  private readonly runs: Counter<'status' | 'provider' | 'model'>;
  private readonly duration: Histogram<'status' | 'provider' | 'model'>;
  private readonly firstToken: Histogram<'provider' | 'model'>;
  private readonly tokens: Counter<'provider' | 'model' | 'type'>;
  private readonly providerErrors: Counter<'provider' | 'code'>;
  private readonly retries: Counter<'provider' | 'model'>;
  private waiting: { at: number; counts: Promise<Waiting | undefined> } | undefined;

  constructor(
    metrics: MetricsService,
    private readonly bus: RealtimeBus,
    private readonly store: RunsRepository,
    private readonly config: AppConfig,
  ) {
    const registers = [metrics.registry];
    const labelNames = ['status', 'provider', 'model'] as const;
    this.runs = new Counter({ name: 'agent_runs_total', help: 'Run executions on this instance by how they ended (awaiting_approval: paused for a decision)', labelNames, registers });
    this.duration = new Histogram({
      name: 'agent_run_duration_seconds',
      help: 'Time a run executed on this instance, from its claim to its end or pause',
      labelNames,
      buckets: [0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300],
      registers,
    });
    this.firstToken = new Histogram({
      name: 'agent_time_to_first_token_seconds',
      help: 'From the run being created (the user message) to its first delta published',
      labelNames: ['provider', 'model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    this.tokens = new Counter({ name: 'agent_tokens_total', help: 'Tokens of ended runs, as the provider counted them (type: input, output)', labelNames: ['provider', 'model', 'type'], registers });
    this.providerErrors = new Counter({ name: 'agent_provider_errors_total', help: 'Provider failures by run error code: each retried attempt and each run failed by its provider', labelNames: ['provider', 'code'], registers });
    this.retries = new Counter({ name: 'agent_provider_retries_total', help: 'Provider requests made again after an error before the first token', labelNames: ['provider', 'model'], registers });
    this.registerWaiting(registers);
    this.zeroDefaults();
  }

  onModuleInit(): void {
    this.subscription = this.bus.events$.subscribe((event) => this.observe(event));
  }

  /** Not before: the runs a shutdown interrupts end after the modules are told to stop (their lines count most). */
  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** A run this instance claimed starts executing (again, after its approvals, when it has a stored loop). */
  begin(run: RunEntity): void {
    // An execution whose end nobody published (its run ended by another instance meanwhile) is
    // dropped once it is older than any run may last.
    const oldest = performance.now() - 2 * this.config.agent.runTimeoutMs;
    for (const [id, execution] of this.executions) if (execution.started < oldest) this.executions.delete(id);
    this.executions.set(run.id, { run, labels: this.labelsOf(run), resumed: run.loopState !== null && run.loopState !== undefined, started: performance.now(), toolCalls: 0 });
  }

  /** The execution is over here: whatever its end was has been counted by now; nothing stays behind. */
  settle(runId: string): void {
    this.executions.delete(runId);
  }

  /** The provider failed before the first token and is asked again. */
  retried(run: RunEntity, code: string): void {
    const labels = this.executions.get(run.id)?.labels ?? this.labelsOf(run);
    this.retries.inc(labels);
    this.providerErrors.inc({ provider: labels.provider, code });
  }

  private observe(event: RealtimeEvent): void {
    if (this.executions.size === 0) return;
    if (isRunEnd(event)) return this.ended(event);
    switch (event.type) {
      case 'run.delta':
        return this.delta(event.runId);
      case 'run.tool': {
        const execution = this.executions.get(event.runId);
        if (execution && event.status === 'started') execution.toolCalls += 1;
        return;
      }
      case 'approval.requested': {
        const execution = this.executions.get(event.approval.runId);
        // The first request of a pause ends the execution; the others of the same pause find it gone.
        if (execution) this.record(execution, 'awaiting_approval');
        return;
      }
    }
  }

  private delta(runId: string): void {
    const execution = this.executions.get(runId);
    if (!execution || execution.resumed || execution.ttftMs !== undefined) return;
    execution.ttftMs = Math.max(0, Date.now() - new Date(execution.run.createdAt).getTime());
    this.firstToken.observe(execution.labels, execution.ttftMs / 1000);
  }

  private ended(event: RunEndEvent): void {
    const execution = this.executions.get(event.run.id);
    if (!execution) return;
    const { status, usage, error } = event.run;
    const end = EXECUTION_ENDS.includes(status as ExecutionEnd) ? (status as ExecutionEnd) : 'failed';
    if (usage) {
      this.tokens.inc({ ...execution.labels, type: 'input' }, usage.inputTokens);
      this.tokens.inc({ ...execution.labels, type: 'output' }, usage.outputTokens);
    }
    if (error && PROVIDER_ERROR_CODES.has(error.code)) this.providerErrors.inc({ provider: execution.labels.provider, code: error.code });
    this.record(execution, end, event);
  }

  private record(execution: Execution, end: ExecutionEnd, event?: RunEndEvent): void {
    const { run, labels, resumed, ttftMs, toolCalls } = execution;
    this.executions.delete(run.id);
    const durationMs = milliseconds(execution.started);
    this.runs.inc({ ...labels, status: end });
    this.duration.observe({ ...labels, status: end }, durationMs / 1000);
    const ended = event?.run;
    const queuedMs = !resumed && run.startedAt ? Math.max(0, new Date(run.startedAt).getTime() - new Date(run.createdAt).getTime()) : null;
    this.logger.log({
      msg: end === 'awaiting_approval' ? 'Run paused for approval' : 'Run ended',
      runId: run.id,
      conversationId: run.conversationId,
      provider: run.provider,
      model: run.model,
      status: end,
      resumed,
      queuedMs,
      durationMs,
      ttftMs: ttftMs ?? null,
      inputTokens: ended?.usage?.inputTokens ?? null,
      outputTokens: ended?.usage?.outputTokens ?? null,
      toolCalls,
      errorCode: ended?.error?.code ?? null,
    });
  }

  /** Bounded labels: a provider we know, and a model among those configured for it (else `other`). */
  private labelsOf(run: Pick<RunEntity, 'provider' | 'model'>): Labels {
    const provider = AGENT_PROVIDERS.find((name) => name === run.provider);
    if (!provider) return { provider: OTHER, model: OTHER };
    return { provider, model: allowedModelsOf(this.config.agent, provider).includes(run.model) ? run.model : OTHER };
  }

  /** The configured provider and model show as zero before their first run, rather than as no data. */
  private zeroDefaults(): void {
    const { provider, model } = this.config.agent;
    const labels = this.labelsOf({ provider, model });
    for (const status of EXECUTION_ENDS) this.runs.inc({ ...labels, status }, 0);
    for (const type of ['input', 'output']) this.tokens.inc({ ...labels, type }, 0);
    this.retries.inc(labels, 0);
    for (const code of PROVIDER_ERROR_CODES) this.providerErrors.inc({ provider: labels.provider, code }, 0);
  }

  /**
   * Runs waiting, across all instances (the database holds the queue): every instance reports the
   * same numbers, so a dashboard takes max() over instances, not sum().
   */
  private registerWaiting(registers: MetricsService['registry'][]): void {
    const queued: Gauge = new Gauge({
      name: 'agent_runs_queued',
      help: 'Runs queued for an instance to execute them, all instances together (read from the database)',
      registers,
      collect: async () => queued.set((await this.countWaiting())?.queued ?? Number.NaN),
    });
    const awaiting: Gauge = new Gauge({
      name: 'agent_runs_awaiting_approval',
      help: 'Runs paused until their tool calls are approved or denied, all instances together (read from the database)',
      registers,
      collect: async () => awaiting.set((await this.countWaiting())?.awaitingApproval ?? Number.NaN),
    });
  }

  private countWaiting(): Promise<Waiting | undefined> {
    const now = Date.now();
    if (this.waiting && now - this.waiting.at < WAITING_CACHE_MS) return this.waiting.counts;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WAITING_TIMEOUT_MS)));
    const read = this.store.countWaiting().catch((error: unknown) => {
      this.logger.warn(`Counting the waiting runs failed: ${String(error)}`);
      return undefined;
    });
    const counts = Promise.race([read, timeout]).finally(() => clearTimeout(timer));
    this.waiting = { at: now, counts };
    return counts;
  }
}
