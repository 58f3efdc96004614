import { Decoder, type Packet, PacketType } from 'socket.io-parser';

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
 * as a protocol violation and closes the connection. Counted as each packet is decoded, before it
 * is handed on — by type as the parser read it, whatever the text looked like — so a burst cannot
 * start more checks than that either.
 */
export class ConnectLimitingDecoder extends Decoder {
  connects = 0;

  constructor(...options: ConstructorParameters<typeof Decoder>) {
    super(...options);
    // The first listener: it runs before Socket.IO's own, and its throw comes out of add().
    this.on('decoded', countConnect);
  }
}

/** One function for every decoder (`this`): nothing more per connection than the listener's slot. */
function countConnect(this: ConnectLimitingDecoder, packet: Packet): void {
  if (packet.type === PacketType.CONNECT && ++this.connects > MAX_CONNECTS_PER_CONNECTION) {
    throw new Error(`More than ${MAX_CONNECTS_PER_CONNECTION} requests to connect on one connection`);
  }
}
