import {
  AbstractChat,
  type ChatInit,
  type ChatState,
  type ChatStatus,
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  type UIMessage,
  type UIMessageChunk,
  uiMessageChunkSchema,
} from './ai-sdk.js';
import { assertDocumentedFetch } from './openapi-validator.js';

/** The in-memory state React's `useChat` keeps (its Chat class is AbstractChat over React state). */
class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: UIMessage[] = []) {}
  pushMessage = (message: UIMessage) => {
    this.messages = [...this.messages, message];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index: number, message: UIMessage) => {
    this.messages = [...this.messages.slice(0, index), this.snapshot(message), ...this.messages.slice(index + 1)];
  };
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

/** What `useChat({ id, transport })` drives, without React. */
export class TestChat extends AbstractChat<UIMessage> {
  constructor(init: ChatInit<UIMessage>) {
    super({ ...init, state: new MemoryChatState(init.messages) });
  }
}

/** One UI message stream response as it went over the wire. */
export interface RecordedStream {
  method: string;
  url: string;
  requestBody: unknown;
  status: number;
  headers: Headers;
  chunks: UIMessageChunk[];
  /** True once `data: [DONE]` ended the stream. */
  done: boolean;
  /** Anything that is not a valid frame or chunk of the protocol. */
  problems: string[];
  /** Settles when the response has been read to its end (or cut). */
  ended: Promise<void>;
}

const schema = uiMessageChunkSchema();

async function problemsOf(frame: string, stream: RecordedStream): Promise<string[]> {
  const lines = frame.split('\n').filter((line) => !line.startsWith(':'));
  if (!lines.length) return [];
  if (stream.done) return [`a frame after [DONE]: ${frame}`];
  if (lines.length !== 1 || !lines[0]!.startsWith('data: ')) return [`not a single data line: ${frame}`];
  const data = lines[0]!.slice('data: '.length);
  if (data === '[DONE]') {
    stream.done = true;
    return [];
  }
  const chunk = JSON.parse(data) as UIMessageChunk;
  const result = await schema.validate!(chunk);
  stream.chunks.push(chunk);
  return result.success ? [] : [`invalid chunk ${data}: ${String(result.error)}`];
}

/**
 * A fetch for DefaultChatTransport that records every UI message stream, checks each frame against
 * the protocol and each chunk against the AI SDK's own schema, and can cut a stream mid-way the
 * way a dropped connection does (the SDK sees a network TypeError; the server sees the socket close).
 */
export class RecordingFetch {
  readonly streams: RecordedStream[] = [];
  /** When set, the next stream is cut as soon as its chunks so far satisfy it. */
  cutWhen: ((chunks: UIMessageChunk[]) => boolean) | undefined;

  /** Throws if any stream so far broke the protocol, and forgets them. */
  check(): void {
    const problems = this.streams.flatMap((stream) => stream.problems);
    this.streams.length = 0;
    if (problems.length) throw new Error(`UI message stream problems:\n${problems.join('\n')}`);
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    await assertDocumentedFetch(response, init?.method);
    if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) return response;
    let settle!: () => void;
    const stream: RecordedStream = {
      method: init?.method ?? 'GET',
      url: String(input),
      requestBody: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      status: response.status,
      headers: response.headers,
      chunks: [],
      done: false,
      problems: [],
      ended: new Promise<void>((resolve) => (settle = resolve)),
    };
    this.streams.push(stream);
    const cut = this.cutWhen;
    this.cutWhen = undefined;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
        if (done) {
          settle();
          return controller.close();
        }
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          stream.problems.push(...(await problemsOf(buffer.slice(0, end), stream)));
          buffer = buffer.slice(end + 2);
        }
        controller.enqueue(value);
        if (cut?.(stream.chunks)) {
          await reader.cancel();
          settle();
          controller.error(new TypeError('network error'));
        }
      },
      cancel: async () => {
        await reader.cancel();
        settle();
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

/** A useChat that sends the approval responses by itself once every request of the reply is answered. */
export function approvingChat(id: string, transport: DefaultChatTransport<UIMessage>): TestChat {
  return new TestChat({ id, transport, sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses });
}

export function chatTransport(baseUrl: string, token: string, recorder: RecordingFetch): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport({ api: `${baseUrl}/api/v1/chat`, headers: { Authorization: `Bearer ${token}` }, fetch: recorder.fetch });
}

/** The text of a UI message, as a UI shows it. */
export function textOf(message: UIMessage | undefined): string {
  return (message?.parts ?? []).flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
}
