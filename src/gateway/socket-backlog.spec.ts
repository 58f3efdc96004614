import { Decoder, type Packet, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import type { Server } from 'socket.io';
import { BacklogGuard, CountingEncoder } from './socket-backlog.js';

function decode(parts: unknown[]): Packet {
  const decoder = new Decoder();
  let packet: Packet | undefined;
  decoder.on('decoded', (decoded: Packet) => (packet = decoded));
  for (const part of parts) decoder.add(part as string);
  return packet!;
}

describe('CountingEncoder', () => {
  it('tells the UTF-8 size of every packet it encodes, binary attachments included, and encodes as Socket.IO does', () => {
    const encoder = new CountingEncoder();
    const counted: number[] = [];
    encoder.encoded = (bytes) => counted.push(bytes);
    const text: Packet = { type: PacketType.EVENT, nsp: '/chat', data: ['message:created', { content: 'é'.repeat(10) }] };
    const parts = encoder.encode(text);
    expect(counted).toEqual([Buffer.byteLength(parts[0] as string)]);
    expect(counted[0]).toBeGreaterThan((parts[0] as string).length);
    expect(decode(parts)).toEqual(text);

    const binary: Packet = { type: PacketType.EVENT, nsp: '/chat', data: ['file', Buffer.alloc(1000)] };
    const binaryParts = encoder.encode(binary);
    expect(binaryParts).toHaveLength(2);
    expect(counted[1]).toBe(Buffer.byteLength(binaryParts[0] as string) + 1000);
  });

  it('counts nothing until it is followed, and encodes the same either way', () => {
    const encoder = new CountingEncoder();
    expect(encoder.encode({ type: PacketType.EVENT, nsp: '/', data: ['x'] })).toEqual(['2["x"]']);
    const counted: number[] = [];
    encoder.encoded = (bytes) => counted.push(bytes);
    expect(encoder.encode({ type: PacketType.EVENT, nsp: '/', data: ['yy'] })).toEqual(['2["yy"]']);
    expect(counted).toEqual([7]);
  });
});

/** An engine.io connection as the guard sees it: `queued` bytes waiting, and whether it was cut off. */
function connection(queued: number) {
  const conn = {
    cut: false,
    writeBuffer: queued ? [{ data: 'x'.repeat(queued) }] : [],
    transport: { socket: { bufferedAmount: 0, terminate: () => (conn.cut = true) } },
    close: (discard?: boolean) => (conn.cut = conn.cut || discard === true),
  };
  return conn;
}

describe('BacklogGuard', () => {
  const CAP = 1000;
  function guarded(clients: Record<string, ReturnType<typeof connection>>) {
    const encoder = new CountingEncoder();
    const guard = new BacklogGuard({ encoder, engine: { clients } } as unknown as Server, CAP);
    guard.start();
    return { encoder, guard };
  }

  it('cuts off every connection past the cap, in a namespace or not, and leaves the others', () => {
    const clients = { inChat: connection(CAP + 1), inNoNamespace: connection(CAP + 1), atCap: connection(CAP), idle: connection(0) };
    const { guard } = guarded(clients);
    guard.sweep();
    guard.stop();
    expect(Object.fromEntries(Object.entries(clients).map(([id, conn]) => [id, conn.cut]))).toEqual({ inChat: true, inNoNamespace: true, atCap: false, idle: false });
  });

  it('sweeps once a quarter of the cap has been encoded since the last sweep, after the turn that encoded it', async () => {
    const clients = { stalled: connection(CAP + 1) };
    const { encoder, guard } = guarded(clients);
    const event = (bytes: number) => encoder.encode({ type: PacketType.EVENT, nsp: '/chat', data: ['e', 'x'.repeat(bytes)] });
    // What an event costs besides its text (measured with an encoder nobody follows).
    const framing = (new CountingEncoder().encode({ type: PacketType.EVENT, nsp: '/chat', data: ['e', ''] })[0] as string).length;
    event(CAP / 4 - framing - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clients.stalled.cut).toBe(false);
    event(0);
    expect(clients.stalled.cut).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clients.stalled.cut).toBe(true);
    guard.stop();
  });

  it('refuses a server that does not count what it encodes, and a second guard on one server', () => {
    expect(() => new BacklogGuard({ encoder: {}, engine: { clients: {} } } as unknown as Server, CAP).start()).toThrow(/CountingEncoder/);
    const { encoder, guard } = guarded({});
    expect(() => new BacklogGuard({ encoder, engine: { clients: {} } } as unknown as Server, CAP).start()).toThrow(/already/);
    guard.stop();
  });
});
