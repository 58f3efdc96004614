/** One Server-Sent Events frame: a bare `id:` mark has neither event nor data. */
export interface SseFrame {
  id?: string;
  event?: string;
  // Tests assert on arbitrary payloads.
  data?: any;
}

/** Reads SSE frames (bare `id:` marks included) until `stop` holds or the time is up. */
export async function readFrames(response: Response, stop: (frames: SseFrame[]) => boolean, timeoutMs = 10_000): Promise<SseFrame[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!stop(frames) && Date.now() < deadline) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((resolve) => setTimeout(() => resolve({ value: undefined, done: true }), Math.max(1, deadline - Date.now()))),
      ]);
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = raw.match(/^id: (.+)$/m)?.[1];
        const event = raw.match(/^event: (.+)$/m)?.[1];
        const data = raw.match(/^data: (.+)$/m)?.[1];
        if (id === undefined && event === undefined) continue;
        frames.push({ ...(id !== undefined && { id }), ...(event && { event }), ...(data && { data: JSON.parse(data) }) });
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return frames;
}

/** What EventSource would send as Last-Event-ID after these frames. */
export const lastEventId = (frames: SseFrame[]) => frames.findLast((frame) => frame.id !== undefined)?.id;

/** As readFrames, without the bare `id:` marks: the events only. */
export async function readEvents(response: Response, stop: (events: SseFrame[]) => boolean, timeoutMs?: number): Promise<SseFrame[]> {
  const events = (frames: SseFrame[]) => frames.filter((frame) => frame.event !== undefined);
  return events(await readFrames(response, (frames) => stop(events(frames)), timeoutMs));
}

const LIVE = Buffer.from('\n: live\n\n');

/**
 * Reads a conversation feed until its `: live` comment, which it sends once every change from
 * then on reaches it; returns the rest of the stream as a response to read frames from.
 */
export async function untilLive(response: Response, timeoutMs = 10_000): Promise<Response> {
  const reader = response.body!.getReader();
  const deadline = Date.now() + timeoutMs;
  let read = Buffer.alloc(0);
  let end: number;
  while ((end = read.indexOf(LIVE)) < 0) {
    let timer: NodeJS.Timeout | undefined;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(1, deadline - Date.now())))),
    ]).finally(() => clearTimeout(timer));
    if (!chunk || chunk.done) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the feed was not live within ${timeoutMs} ms: ${JSON.stringify(read.toString())}`);
    }
    read = Buffer.concat([read, chunk.value]);
  }
  const rest = read.subarray(end + LIVE.length);
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      if (rest.length) controller.enqueue(rest);
    },
    pull: async (controller) => {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
