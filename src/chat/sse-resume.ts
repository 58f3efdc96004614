import { fieldError } from '../common/errors.js';

const INTEGER = /^\d{1,16}$/;

/** Where an SSE feed resumes: after a version, or (deprecated) after a seq. */
export type ResumePoint = { afterVersion: number } | { afterSeq: number };

/** How far a conversation has come: its version and its last seq. */
export interface Progress {
  version: number;
  lastSeq: number;
}

/**
 * The point an SSE feed resumes from: `Last-Event-ID` (a version: what EventSource sends on
 * reconnect), else `?afterVersion=`, else the deprecated `?afterSeq=` (both already integers ≥ 0),
 * else none. Refused before the stream opens when it is malformed or past what the conversation
 * has reached, since such a stream would wait for changes the client claims to have.
 */
export async function resumeFrom(
  lastEventId: string | undefined,
  query: { afterVersion?: number | undefined; afterSeq?: number | undefined },
  cached: Progress,
  read: () => Promise<Progress>,
): Promise<ResumePoint | undefined> {
  let field: string;
  let point: ResumePoint;
  // EventSource never sends an empty id; a client that does means "no resume point".
  if (lastEventId) {
    if (!INTEGER.test(lastEventId) || Number(lastEventId) > Number.MAX_SAFE_INTEGER) {
      throw fieldError('Last-Event-ID', 'Last-Event-ID must be an id of this stream (a non-negative integer)');
    }
    [field, point] = ['Last-Event-ID', { afterVersion: Number(lastEventId) }];
  } else if (query.afterVersion !== undefined) {
    [field, point] = ['afterVersion', { afterVersion: query.afterVersion }];
  } else if (query.afterSeq !== undefined) {
    [field, point] = ['afterSeq', { afterSeq: query.afterSeq }];
  } else {
    return undefined;
  }
  const reached = (progress: Progress) => ('afterVersion' in point ? point.afterVersion <= progress.version : point.afterSeq <= progress.lastSeq);
  // The cached conversation may trail a change made through another instance.
  if (reached(cached) || reached(await read())) return point;
  const what = 'afterVersion' in point ? `the conversation's version` : 'the last message of the conversation';
  throw fieldError(field, `${field} ${'afterVersion' in point ? point.afterVersion : point.afterSeq} is past ${what}`);
}
