import type { Ack, AckErrorCode } from '../chat/wire-events.js';
import { describeError } from '../common/filters/all-exceptions.filter.js';

/**
 * The contract's acknowledgement codes, by the HTTP status of the underlying error. Anything
 * else — a database outage included — is INTERNAL, with the specific reason in details.
 */
const ACK_CODES: Record<number, AckErrorCode> = {
  400: 'VALIDATION',
  401: 'FORBIDDEN',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'VALIDATION',
  429: 'RATE_LIMITED',
};

export function ackOk<T>(data: T): Ack<T> {
  return { ok: true, data };
}

/**
 * An error as an acknowledgement, in the same terms as the HTTP error body: the generic code
 * clients branch on, the message, and the specific code (`CONVERSATION_NOT_FOUND`) in details.
 */
export function ackError(error: unknown): Ack<never> {
  const described = describeError(error);
  const code = ACK_CODES[described.statusCode] ?? 'INTERNAL';
  const details = described.details ?? (described.code !== code ? { reason: described.code } : undefined);
  return { ok: false, error: { code, message: described.message, ...(details && { details }) } };
}
