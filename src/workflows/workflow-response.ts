import { MAX_RESULT_CHARS } from '../common/tools/external-tool.js';
import type { SchemaCheck } from '../common/tools/json-schema.js';

/** The most of an answer read: a webhook is a tool, not a download. */
export const MAX_RESPONSE_BYTES = 262_144;
/** How much of a refusal's body the model is told. */
const MAX_ERROR_BODY_CHARS = 300;

/** What a workflow call records and feeds back to the model. */
export interface WorkflowOutput {
  /** The receiver's 2xx status (202 may mean "queued" rather than "done"). */
  status: number;
  /** A JSON answer. */
  json?: unknown;
  /** Any other answer, or a JSON one too large to keep whole (then serialised and cut). */
  text?: string;
  /** Set when the answer was cut to MAX_RESULT_CHARS. */
  truncated?: true;
}

/** A call that failed: its message is what the model is told, and never carries the secret. */
export class WorkflowError extends Error {
  override readonly name = 'WorkflowError';
}

/** The first `limit` bytes of a body; the rest is not read (the connection is dropped). */
export async function readBody(response: Response, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
  if (!response.body) return { bytes: Buffer.alloc(0), complete: true };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks, size), complete: true };
    const room = limit - size;
    chunks.push(value.byteLength > room ? value.subarray(0, room) : value);
    size += Math.min(value.byteLength, room);
    if (value.byteLength > room) {
      await reader.cancel().catch(() => undefined);
      return { bytes: Buffer.concat(chunks, size), complete: false };
    }
  }
}

/** The start of a refusal's body, on one line, without the secret should the receiver echo it. */
export async function errorExcerpt(response: Response, secret: string): Promise<string> {
  const { bytes } = await readBody(response, MAX_ERROR_BODY_CHARS * 4);
  const text = new TextDecoder().decode(bytes).replaceAll(secret, '[redacted]').replace(/\s+/g, ' ').trim();
  return text.slice(0, MAX_ERROR_BODY_CHARS);
}

function isJson(contentType: string | null): boolean {
  return contentType !== null && /\bjson\b/i.test(contentType.split(';')[0]!);
}

type Answer = { kind: 'empty' } | { kind: 'json'; value: unknown } | { kind: 'text'; value: string };

/** Parsed JSON when the answer says it is JSON and parses; its text otherwise. */
function answerOf(contentType: string | null, bytes: Buffer): Answer {
  if (bytes.length === 0) return { kind: 'empty' };
  const text = new TextDecoder().decode(bytes);
  if (!isJson(contentType)) return { kind: 'text', value: text };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'text', value: text };
  }
}

function cut(status: number, text: string): WorkflowOutput {
  if (text.length <= MAX_RESULT_CHARS) return { status, text };
  return { status, text: text.slice(0, MAX_RESULT_CHARS), truncated: true };
}

/**
 * The output of a 2xx answer read whole; throws when it does not match the workflow's
 * responseSchema (checked against the JSON value, the text, or null when the answer is empty).
 */
export function workflowOutput(workflow: string, status: number, contentType: string | null, bytes: Buffer, responseSchema?: SchemaCheck): WorkflowOutput {
  const answer = answerOf(contentType, bytes);
  const mismatch = responseSchema?.(answer.kind === 'empty' ? null : answer.value);
  if (mismatch !== undefined) throw new WorkflowError(`Workflow ${workflow} answered with a response that does not match its responseSchema: ${mismatch.slice(0, 1000)}`);
  if (answer.kind === 'empty') return { status };
  if (answer.kind === 'text') return cut(status, answer.value);
  const serialised = JSON.stringify(answer.value);
  return serialised.length <= MAX_RESULT_CHARS ? { status, json: answer.value } : cut(status, serialised);
}
