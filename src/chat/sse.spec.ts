import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { HijackedStream, type SseStream } from './sse.js';

function response(destroyed: boolean) {
  const written: string[] = [];
  const raw = Object.assign(new EventEmitter(), {
    destroyed,
    write: (text: string) => void written.push(text),
    end: vi.fn((text?: string) => void (text && written.push(text))),
  });
  return { raw: raw as unknown as ServerResponse & EventEmitter, written };
}

describe('HijackedStream', () => {
  it('ends at once, calling its listeners, when the client went away before the takeover', () => {
    const { raw, written } = response(true);
    const stream = new HijackedStream(raw);
    const closed = vi.fn();
    stream.onClose(closed);
    expect(stream.closed).toBe(true);
    expect(closed).toHaveBeenCalledOnce();
    stream.write('data: nobody reads this\n\n');
    expect(written).toEqual([]);
  });

  it('calls its listeners once, when either side ends it', () => {
    const { raw, written } = response(false);
    const stream = new HijackedStream(raw);
    const closed = vi.fn();
    stream.onClose(closed);
    stream.write(': one\n\n');
    raw.emit('close');
    stream.end('data: [DONE]\n\n');
    expect(closed).toHaveBeenCalledOnce();
    expect(written).toEqual([': one\n\n']);
  });
});

describe('SseStream.send', () => {
  it('pairs a frame name with its own payload, even for a union of names', () => {
    const sent: unknown[] = [];
    const stream: SseStream = {
      send: (...frame) => void sent.push(frame),
      mark: () => undefined,
      comment: () => undefined,
      close: () => undefined,
      closed: false,
      onClose: () => undefined,
    };
    const name = sent.length === 0 ? 'presence' : 'run:delta';
    stream.send('presence', { conversationId: 'c', online: [] });
    // @ts-expect-error a presence payload is not a run:delta payload
    stream.send(name, { conversationId: 'c', online: [] });
    expect(sent).toHaveLength(2);
  });
});
