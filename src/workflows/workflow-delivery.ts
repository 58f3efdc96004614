import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowSettings } from '../config/workflows.config.js';
import { signatureOf } from './signature.js';
import { errorExcerpt, MAX_RESPONSE_BYTES, readBody, WorkflowError, type WorkflowOutput, workflowOutput } from './workflow-response.js';

const USER_AGENT = 'agent-chat-workflows/1';

export interface RetrySettings {
  maxRetries: number;
  retryBaseMs: number;
}

/** One call of a workflow, as the agent makes it. */
export interface WorkflowCall {
  input: unknown;
  conversationId: string;
  userId: string;
  signal: AbortSignal;
  timeoutMs: number;
}

/** What one attempt came to: the output, or a failure worth another attempt. */
type Attempt = { kind: 'done'; output: WorkflowOutput } | { kind: 'retry'; error: string; retryAfterMs?: number };

/** The call's time and its cancellation in one signal; tells which one stopped it. */
class CallBudget {
  private readonly controller = new AbortController();
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly workflow: string,
    private readonly ms: number,
    private readonly outer: AbortSignal,
  ) {
    this.deadline = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, ms);
    if (outer.aborted) this.controller.abort();
    else outer.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  stopped(): WorkflowError {
    return this.timedOut
      ? new WorkflowError(`Workflow ${this.workflow} did not answer within ${this.ms} ms`)
      : new WorkflowError(`The call of workflow ${this.workflow} was cancelled`);
  }

  close(): void {
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this.onAbort);
  }
}

/** Seconds or an HTTP date, as Retry-After gives them. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d{1,9}$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter (half to all of the step), never shorter than the receiver asked. */
export function retryDelayMs(attempt: number, baseMs: number, askedMs?: number): number {
  const step = baseMs * 2 ** (attempt - 1);
  return Math.max(step / 2 + (Math.random() * step) / 2, askedMs ?? 0);
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'network error';
}

function tooLarge(workflow: string): WorkflowError {
  return new WorkflowError(`Workflow ${workflow} answered with more than ${MAX_RESPONSE_BYTES / 1024} KiB; the answer was not read`);
}

/** A 2xx answer, read whole (up to MAX_RESPONSE_BYTES), as the tool's output. */
async function success(workflow: WorkflowSettings, response: Response): Promise<WorkflowOutput> {
  if (Number(response.headers.get('content-length') ?? 0) > MAX_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(workflow.name);
  }
  const { bytes, complete } = await readBody(response, MAX_RESPONSE_BYTES);
  if (!complete) throw tooLarge(workflow.name);
  return workflowOutput(workflow.name, response.status, response.headers.get('content-type'), bytes, workflow.responseSchema);
}

/** Reads an answer: a 2xx gives the output; 429 and 5xx are worth another attempt; anything else fails the call. */
async function answer(workflow: WorkflowSettings, response: Response): Promise<Attempt> {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'done', output: await success(workflow, response) };
  if (status >= 300 && status < 400) {
    await response.body?.cancel().catch(() => undefined);
    throw new WorkflowError(`Workflow ${workflow.name} answered with a redirect (HTTP ${status}), which is not followed`);
  }
  const excerpt = await errorExcerpt(response, workflow.secret);
  const error = `Workflow ${workflow.name} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status === 429 || status >= 500) return { kind: 'retry', error, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
  throw new WorkflowError(error);
}

/** One signed POST. The timestamp is the attempt's, so a receiver may refuse old replays; the delivery id stays. */
async function send(workflow: WorkflowSettings, call: WorkflowCall, deliveryId: string, signal: AbortSignal): Promise<Attempt> {
  const { input, conversationId, userId } = call;
  const payload = { workflow: workflow.name, input, conversationId, userId, deliveryId, timestamp: new Date().toISOString() };
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  let response: Response;
  try {
    response = await fetch(workflow.url, {
      method: 'POST',
      redirect: 'manual',
      signal,
      body,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': USER_AGENT,
        'X-Signature-256': signatureOf(workflow.secret, body),
        'X-Workflow-Delivery': deliveryId,
      },
    });
  } catch (error) {
    if (signal.aborted) throw error;
    return { kind: 'retry', error: `Workflow ${workflow.name} could not be reached (${networkReason(error)})` };
  }
  try {
    return await answer(workflow, response);
  } catch (error) {
    if (signal.aborted || error instanceof WorkflowError) throw error;
    // The connection dropped mid-answer: the receiver de-duplicates a new attempt by its delivery id.
    return { kind: 'retry', error: `The answer of workflow ${workflow.name} was cut off (${networkReason(error)})` };
  }
}

/**
 * Delivers a call to a workflow's webhook within min(its timeout, the call's), retrying 5xx, 429
 * and network failures with backoff under the same delivery id, so that receivers can de-duplicate.
 */
export async function deliver(workflow: WorkflowSettings, call: WorkflowCall, retries: RetrySettings): Promise<WorkflowOutput> {
  const budget = new CallBudget(workflow.name, Math.min(workflow.timeoutMs, call.timeoutMs), call.signal);
  const deliveryId = randomUUID();
  try {
    for (let attempts = 1; ; attempts += 1) {
      const outcome = await send(workflow, call, deliveryId, budget.signal);
      if (outcome.kind === 'done') return outcome.output;
      if (attempts > retries.maxRetries) throw new WorkflowError(`${outcome.error} (${attempts} attempt${attempts > 1 ? 's' : ''})`);
      const waitMs = retryDelayMs(attempts, retries.retryBaseMs, outcome.retryAfterMs);
      if (waitMs >= budget.remainingMs()) throw new WorkflowError(`${outcome.error} (${attempts} attempt${attempts > 1 ? 's' : ''}; no time left to retry)`);
      await sleep(waitMs, undefined, { signal: budget.signal });
    }
  } catch (error) {
    if (budget.signal.aborted) throw budget.stopped();
    throw error;
  } finally {
    budget.close();
  }
}
