import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import { type AttachmentMark, attachmentMark } from '../attachment-parts.js';

/** How much of a document the builtin agent quotes. */
const QUOTE_CHARS = 300;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const STATE_WORDS: Partial<Record<AttachmentMark['state'], string>> = {
  deleted: 'deleted since: no longer available',
  processing: 'still being processed',
  failed: 'could not be read',
  empty: 'no text could be extracted',
  'too-large': 'too large to pass on',
  'over-budget': 'left out: the context budget was used up',
};

/** One line per attachment: name, type, size, and the start of a document's text when there is one. */
function line(mark: AttachmentMark, text: string | undefined): string {
  const head = `- ${JSON.stringify(mark.filename)} — ${mark.mediaType}, ${size(mark.bytes)}`;
  const state = STATE_WORDS[mark.state];
  if (state) return `${head} (${state})`;
  if (text === undefined || mark.state === 'image') return head;
  const start = text.slice(text.indexOf('\n') + 1);
  const note = start.lastIndexOf('\n[truncated: ');
  const body = mark.state === 'truncated' && note >= 0 ? start.slice(0, note) : start;
  const quote = body.length > QUOTE_CHARS ? `${body.slice(0, QUOTE_CHARS).trimEnd()}…` : body;
  return `${head}. It begins:\n${quote.replace(/^/gm, '  > ')}`;
}

/**
 * The builtin agent's honest answer to a message that carries attachments and asks for nothing
 * it can do: what was attached (it cannot look at images or understand documents), with the start
 * of each document's text. Undefined when the last user message carries none.
 */
export function describeAttachments(prompt: LanguageModelV3Prompt): string | undefined {
  const last = prompt.findLast((message) => message.role === 'user');
  if (!last || last.role !== 'user') return undefined;
  const seen = new Map<string, { mark: AttachmentMark; text?: string }>();
  for (const part of last.content) {
    const mark = attachmentMark(part);
    if (!mark) continue;
    const entry = seen.get(mark.id) ?? { mark };
    if (part.type === 'text' && (mark.state === 'text' || mark.state === 'truncated')) entry.text = part.text;
    seen.set(mark.id, entry);
  }
  if (!seen.size) return undefined;
  const count = seen.size === 1 ? 'one attachment' : `${seen.size} attachments`;
  return [
    `I'm the built-in assistant and no language model is configured, so I can't look at images or understand documents. Your message has ${count}:`,
    ...[...seen.values()].map(({ mark, text }) => line(mark, text)),
    'To have attachments read, set AGENT_PROVIDER=openai (a vision-capable model for images) or AGENT_PROVIDER=anthropic.',
  ].join('\n');
}
