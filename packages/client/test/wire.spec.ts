import type * as Client from '@agent-chat/client';
import { SYNC_EVENTS } from '@agent-chat/client';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as Server from '../../../src/chat/wire-events.js';
import { SERVER_EVENTS } from '../../../src/chat/wire-events.js';

// The package's Socket.IO types are the server's declarations, emitted from src/chat/wire-events.ts
// at build time; the typecheck fails here if the built package and the server disagree.
describe('the wire contract of the package', () => {
  it('is the server’s, type for type', () => {
    expectTypeOf<Client.ServerToClientEvents>().toEqualTypeOf<Server.ServerToClientEvents>();
    expectTypeOf<Client.ClientToServerEvents>().toEqualTypeOf<Server.ClientToServerEvents>();
    expectTypeOf<Client.Ack<{ n: number }>>().toEqualTypeOf<Server.Ack<{ n: number }>>();
    expectTypeOf<Client.JoinResult>().toEqualTypeOf<Server.JoinResult>();
    expectTypeOf<Client.SseEvents>().toEqualTypeOf<Server.SseEvents>();
  });

  it('follows only events the server sends', () => {
    for (const event of SYNC_EVENTS) expect(Object.keys(SERVER_EVENTS)).toContain(event);
  });
});
