import { Decoder } from 'socket.io-parser';

/**
 * Requests to connect one connection may make. A client connects once per connection (to /chat)
 * and, refused (an expired token), retries a few times at most — Socket.IO's client opens a new
 * connection once refused. A client that keeps asking is flooding: each request costs a check
 * (an access token's, for /chat) and an answer, and before a socket exists no event budget applies.
 */
export const MAX_CONNECTS_PER_CONNECTION = 20;

/**
 * Socket.IO's packet decoder (one per connection), refusing the connection's packets past
 * MAX_CONNECTS_PER_CONNECTION requests to connect, to any namespace: Socket.IO takes the refusal
 * as a protocol violation and closes the connection. Counted as packets arrive, before any is
 * checked, so a burst cannot start more checks than that either.
 */
export class ConnectLimitingDecoder extends Decoder {
  private connects = 0;

  override add(data: unknown): void {
    // A CONNECT packet is text whose type, its first character, reads as 0 — read as the parser
    // reads it (Number(' ') is 0 too: a blank first character makes a CONNECT as well).
    if (typeof data === 'string' && Number(data.charAt(0)) === 0 && ++this.connects > MAX_CONNECTS_PER_CONNECTION) {
      throw new Error(`More than ${MAX_CONNECTS_PER_CONNECTION} requests to connect on one connection`);
    }
    super.add(data);
  }
}
