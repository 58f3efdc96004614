import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { END_FLUSH_MS, HijackedStream, type SseStream } from './sse.js';

/** A response whose client reads nothing: what is written stays waiting (writableLength). */
function response(destroyed: boolean) {
  const written: string[] = [];
  const raw = Object.assign(new EventEmitter(), {
    destroyed,
    writableLength: 0,
    writableFinished: false,
    write: (text: string) => {
      written.push(text);
      raw.writableLength += text.length;
    },
    end: vi.fn((text?: string) => void (text && written.push(text))),
    destroy: vi.fn(() => {
      raw.destroyed = true;
    }),
  });
  return { raw: raw as unknown as ServerResponse & EventEmitter & { destroy: ReturnType<typeof vi.fn> }, written };
}

describe('HijackedStream', () => {
  it('ends at once, calling its listeners, when the client went away before the takeover', () => {
    const { raw, written } = response(true);
    const stream = new HijackedStream(raw, 1024);
    const closed = vi.fn();
    stream.onClose(closed);
    expect(stream.closed).toBe(true);
    expect(closed).toHaveBeenCalledOnce();
    stream.write('data: nobody reads this\n\n');
    expect(written).toEqual([]);
  });

  it('calls its listeners once, when either side ends it', () => {
    const { raw, written } = response(false);
    const stream = new HijackedStream(raw, 1024);
    const closed = vi.fn();
    stream.onClose(closed);
    stream.write(': one\n\n');
    raw.emit('close');
    stream.end('data: [DONE]\n\n');
    expect(closed).toHaveBeenCalledOnce();
    expect(written).toEqual([': one\n\n']);
  });
});

describe('HijackedStream, for a client that stops reading', () => {
  it('cuts the connection once more than its backlog limit waits unsent, and ends', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 1024);
    const closed = vi.fn();
    stream.onClose(closed);
    for (let i = 0; i < 9; i++) stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).not.toHaveBeenCalled();
    stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).toHaveBeenCalledOnce();
    expect(stream.closed).toBe(true);
    expect(closed).toHaveBeenCalledOnce();
  });

  it('takes a burst written at once for no slow reader: the cap is raised by it, and past that a reader is cut off as before', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 1024);
    stream.burst(() => {
      for (let i = 0; i < 30; i++) stream.write(`data: ${'x'.repeat(100)}\n\n`);
    });
    expect(raw.destroy).not.toHaveBeenCalled();
    const burst = raw.writableLength;
    while (raw.writableLength + 108 <= burst + 1024) stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).not.toHaveBeenCalled();
    stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).toHaveBeenCalledOnce();
  });

  it('keeps the raised cap only until the client has read the burst', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 1024);
    stream.burst(() => {
      for (let i = 0; i < 30; i++) stream.write(`data: ${'x'.repeat(100)}\n\n`);
    });
    // The client reads everything: the response drains.
    Object.assign(raw, { writableLength: 0 });
    raw.emit('drain');
    for (let i = 0; i < 9; i++) stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).not.toHaveBeenCalled();
    stream.write(`data: ${'x'.repeat(100)}\n\n`);
    expect(raw.destroy).toHaveBeenCalledOnce();
  });

  it('cuts an ended response that is still not flushed after a grace period', () => {
    vi.useFakeTimers();
    try {
      const { raw } = response(false);
      const stream = new HijackedStream(raw, 1024);
      stream.write(': unread\n\n');
      stream.end();
      expect(raw.destroy).not.toHaveBeenCalled();
      vi.advanceTimersByTime(END_FLUSH_MS);
      expect(raw.destroy).toHaveBeenCalledOnce();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('HijackedStream, how it ended', () => {
  it('says the client closed it, counting the events sent but not comments', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 1024);
    stream.write(': connected\n\n');
    stream.send('event: a\ndata: {}\n\n');
    stream.send('event: b\ndata: {}\n\n');
    expect(stream.ended).toBeUndefined();
    raw.emit('close');
    expect(stream.ended).toEqual({ reason: 'client_closed', events: 2 });
  });

  it('says the server completed it when it ends it', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 1024);
    stream.send('data: x\n\n');
    stream.end('data: [DONE]\n\n');
    raw.emit('close');
    expect(stream.ended).toEqual({ reason: 'completed', events: 1 });
  });

  it('keeps the reason given before the end (a session that ended), and the reason of a cut', () => {
    const expired = response(false);
    const ending = new HijackedStream(expired.raw, 1024);
    ending.endingBecause('token_expired');
    ending.send('event: session:expired\ndata: {}\n\n');
    ending.end();
    expect(ending.ended).toEqual({ reason: 'token_expired', events: 1 });

    const shutdown = response(false);
    const cut = new HijackedStream(shutdown.raw, 1024);
    cut.cut('server_shutdown');
    shutdown.raw.emit('close');
    expect(cut.ended?.reason).toBe('server_shutdown');
  });

  it('says a client that stopped reading was cut off as slow', () => {
    const { raw } = response(false);
    const stream = new HijackedStream(raw, 100);
    stream.send(`data: ${'x'.repeat(200)}\n\n`);
    expect(stream.ended).toEqual({ reason: 'slow_client', events: 1 });
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
