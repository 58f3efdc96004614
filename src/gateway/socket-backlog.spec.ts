import { Decoder, type Packet, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { CountingEncoder } from './socket-backlog.js';

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

  it('counts nothing until it is followed', () => {
    const encoder = new CountingEncoder();
    expect(encoder.encode({ type: PacketType.EVENT, nsp: '/', data: ['x'] })).toEqual(['2["x"]']);
  });
});
