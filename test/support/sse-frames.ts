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
