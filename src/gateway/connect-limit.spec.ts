import { type Packet, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { ConnectLimitingDecoder, MAX_CONNECTS_PER_CONNECTION } from './connect-limit.js';

describe('ConnectLimitingDecoder', () => {
  it(`refuses the request to connect past ${MAX_CONNECTS_PER_CONNECTION}, however its type is written, before anyone hears of it; events are not counted`, () => {
    const decoder = new ConnectLimitingDecoder();
    const heard: Packet[] = [];
    decoder.on('decoded', (packet: Packet) => heard.push(packet));
    for (let i = 0; i < 50; i++) decoder.add(`2/chat,["typing:start",{"n":${i}}]`);
    // '0', and a blank first character, which the parser also reads as type 0.
    for (let i = 0; i < MAX_CONNECTS_PER_CONNECTION; i++) decoder.add(i % 2 ? ' /chat,{"token":"t"}' : '0/x,');
    expect(heard.filter((packet) => packet.type === PacketType.CONNECT)).toHaveLength(MAX_CONNECTS_PER_CONNECTION);
    expect(() => decoder.add(' /chat,{"token":"t"}')).toThrow(/requests to connect/);
    expect(heard).toHaveLength(50 + MAX_CONNECTS_PER_CONNECTION);
  });
});
