import { createHmac } from 'node:crypto';

/** The `X-Signature-256` value of a body: the hex HMAC-SHA256 of its exact bytes, keyed with the workflow's secret. */
export function signatureOf(secret: string, body: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
