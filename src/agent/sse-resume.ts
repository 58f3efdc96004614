import { HttpStatus } from '@nestjs/common';
import { AppError, ErrorCode } from '../common/errors.js';

const SEQ = /^\d{1,10}$/;
const MAX_SEQ = 2_147_483_647;

function invalid(field: string, message: string): AppError {
  return new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', { [field]: [message] });
}

/**
 * The seq an SSE feed resumes after: `Last-Event-ID` (what EventSource sends on reconnect), else
 * `?afterSeq=` (already an integer ≥ 0), else none. Refused before the stream opens when it is
 * malformed or past the conversation's last message, since such a stream would never deliver.
 */
export async function resumeAfter(
  lastEventId: string | undefined,
  afterSeq: number | undefined,
  cachedLastSeq: number,
  readLastSeq: () => Promise<number>,
): Promise<number | undefined> {
  let seq = afterSeq;
  let field = 'afterSeq';
  // EventSource never sends an empty id; a client that does means "no resume point".
  if (lastEventId) {
    if (!SEQ.test(lastEventId) || Number(lastEventId) > MAX_SEQ) {
      throw invalid('Last-Event-ID', 'Last-Event-ID must be an id of this stream (a non-negative integer)');
    }
    seq = Number(lastEventId);
    field = 'Last-Event-ID';
  }
  if (seq === undefined || seq <= cachedLastSeq) return seq;
  // The cached conversation may trail a message just sent through another instance.
  if (seq <= (await readLastSeq())) return seq;
  throw invalid(field, `${field} ${seq} is past the last message of the conversation`);
}
