import { ApiResponse, type MediaTypeObject } from '@nestjs/swagger';

export interface EventStreamOptions {
  /** What the stream is; the event list follows it. */
  description: string;
  /** Event name → its `data:` payload (JSON), as prose. */
  events: Record<string, string>;
}

/**
 * A `text/event-stream` answer (200): the body is a string of SSE frames, so its schema can only
 * say that; the events and their payloads are listed in the description and in `x-sse-events`.
 */
export const ApiEventStream = ({ description, events }: EventStreamOptions) => {
  const media: MediaTypeObject & Record<`x-${string}`, unknown> = {
    schema: { type: 'string', description: 'Server-Sent Events frames' },
    'x-sse-events': Object.keys(events),
  };
  const list = Object.entries(events).map(([name, payload]) => `- \`${name}\` ${payload}`);
  return ApiResponse({
    status: 200,
    description: [description, '', 'Events (`event:` name, then `data:` JSON):', ...list].join('\n'),
    content: { 'text/event-stream': media },
  });
};
