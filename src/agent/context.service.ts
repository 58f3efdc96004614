import { Injectable, Logger } from '@nestjs/common';
import type { LanguageModelV3Message } from '@ai-sdk/provider';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import type { MessageEntity } from '../messages/message.entity.js';
import { type ContextTail, MessagesRepository } from '../messages/messages.repository.js';
import { UsersRepository } from '../users/users.repository.js';
import { tokensOf } from '../common/text/tokens.js';
import { AttachmentContext } from './attachment-context.js';
import type { AttachmentPart } from './attachment-parts.js';

const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant taking part in a team chat. Be accurate and concise. ' +
  'Use the tools when they help: search the conversation history, do arithmetic, tell the time.';

/** Per-message overhead of chat formats (role markers), on top of the text itself. */
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Messages read at a time while filling the context window, newest first (the first page comes with a send that starts a run). */
export const CONTEXT_PAGE = 50;
const PAGE = CONTEXT_PAGE;
/** Older turns folded into the summary at most per refresh. */
const SUMMARY_WINDOW = 200;
const SUMMARY_LINE_CHARS = 160;

export interface AgentContext {
  system: string;
  messages: LanguageModelV3Message[];
  /** Tokens of the prompt as counted here (o200k), for quotas and the builtin agent. */
  tokens: number;
  /** seq of the oldest turn sent in full. */
  firstSeq: number;
}

/**
 * Conversation memory: the system prompt, a stored rolling summary of older turns, and the most
 * recent turns that fit AGENT_CONTEXT_TOKENS (counted with a real tokenizer). Turns that fall out
 * of the window are folded into the summary, so nothing said is simply forgotten.
 */
@Injectable()
export class ContextService {
  private readonly logger = new Logger('ContextService');

  constructor(
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersRepository,
    private readonly attachments: AttachmentContext,
    private readonly config: AppConfig,
  ) {}

  /**
   * The prompt answering the message at `uptoSeq`. That message's attachments come first, within
   * half the budget (see AttachmentContext); the turns before it get what the system prompt, a
   * summary of up to a quarter of the budget and the attachments leave.
   */
  /** `known`: the first page (CONTEXT_PAGE messages up to uptoSeq), when the send that started the run read it. */
  async build(conversation: ConversationView, uptoSeq: number, known?: ContextTail): Promise<AgentContext> {
    const budget = this.config.agent.contextTokens;
    const basePrompt = conversation.agent.systemPrompt?.trim() || DEFAULT_SYSTEM_PROMPT;
    // The newest turns, their authors and the summary in one read; older pages only when the budget reaches past them.
    const tail = known ?? (await this.messages.contextTail(conversation.id, uptoSeq, PAGE));
    const stored = tail.summary ?? { summary: null, summarySeq: 0 };
    const attached = await this.triggerAttachments(conversation.id, tail.items.at(-1), uptoSeq, Math.floor(budget / 2));
    const { turns, turnTokens } = await this.window(conversation.id, tail, uptoSeq, budget - tokensOf(basePrompt) - Math.floor(budget / 4) - attached.tokens);
    const firstSeq = turns[0]?.seq ?? uptoSeq + 1;
    const multiUser = conversation.participants.length > 1;
    const names = multiUser ? await this.namesOf(turns, tail.names) : tail.names;

    let summary = stored.summary;
    if (firstSeq - 1 > stored.summarySeq) {
      summary = await this.refreshSummary(conversation.id, stored, firstSeq - 1, Math.floor(budget / 4));
    }
    const system = summary ? `${basePrompt}\n\nSummary of the earlier conversation:\n${summary}` : basePrompt;
    // Turns were counted while choosing the window; only the speaker prefixes are new here.
    let tokens = tokensOf(system) + turnTokens + (turns.at(-1)?.seq === uptoSeq ? attached.tokens : 0);
    const messages: LanguageModelV3Message[] = turns.map((message) => {
      const extra = message.seq === uptoSeq ? attached.parts : this.attachments.earlier(message.attachments);
      if (message.role === 'assistant') return { role: 'assistant', content: [{ type: 'text', text: message.content }] };
      const speaker = multiUser && message.authorId ? `${names.get(message.authorId) ?? 'Someone'}: ` : '';
      tokens += tokensOf(speaker);
      return { role: 'user', content: [...extra, { type: 'text', text: speaker + message.content }] };
    });
    return { system, messages, tokens, firstSeq };
  }

  /** Display names of the turns' authors: those read with the newest turns, and the others looked up. */
  private async namesOf(turns: MessageEntity[], known: Map<string, string>): Promise<Map<string, string>> {
    const missing = turns.map((turn) => turn.authorId).filter((id): id is string => id !== null && !known.has(id));
    if (!missing.length) return known;
    return new Map([...known, ...(await this.users.findDisplayNames(missing))]);
  }

  /** What the message being answered (`newest`, if it is the message at `seq`) carries, within `allowance` tokens. */
  private async triggerAttachments(conversationId: string, newest: MessageEntity | undefined, seq: number, allowance: number): Promise<{ parts: AttachmentPart[]; tokens: number }> {
    if (!newest || newest.seq !== seq || newest.deletedAt || !newest.attachments.length) return { parts: [], tokens: 0 };
    return this.attachments.parts(conversationId, newest.attachments, allowance);
  }

  /** The most recent turns up to `uptoSeq` that fit in `remaining` tokens (an earlier turn's attachments named in them), from the newest page on. */
  private async window(
    conversationId: string,
    newest: { items: MessageEntity[]; hasMore: boolean },
    uptoSeq: number,
    remaining: number,
  ): Promise<{ turns: MessageEntity[]; turnTokens: number }> {
    const turns: MessageEntity[] = [];
    let turnTokens = 0;
    let page = newest;
    while (remaining > 0) {
      for (const message of page.items.toReversed()) {
        if (!this.isTurn(message)) continue;
        const notes = message.seq === uptoSeq ? [] : this.attachments.earlier(message.attachments);
        const cost = tokensOf(message.content) + MESSAGE_OVERHEAD_TOKENS + notes.reduce((sum, note) => sum + (note.type === 'text' ? tokensOf(note.text) : 0), 0);
        if (cost > remaining) return { turns, turnTokens };
        remaining -= cost;
        turnTokens += cost;
        turns.unshift(message);
      }
      if (!page.hasMore || !page.items.length) break;
      page = await this.messages.history(conversationId, { limit: PAGE, beforeSeq: page.items[0]!.seq });
    }
    return { turns, turnTokens };
  }

  /** A summary of the whole conversation so far (the summarize_conversation tool). */
  async summarize(conversationId: string, maxTokens = 600): Promise<{ summary: string; messages: number }> {
    const lines: string[] = [];
    let count = 0;
    for await (const page of this.messages.stream(conversationId)) {
      const names = await this.users.findDisplayNames(page.map((m) => m.authorId));
      for (const message of page) {
        if (!this.isTurn(message)) continue;
        count++;
        lines.push(this.summaryLine(message, names));
      }
    }
    return { summary: this.fit(lines, maxTokens), messages: count };
  }

  private isTurn(message: MessageEntity): boolean {
    return !message.deletedAt && (message.role === 'user' || message.role === 'assistant') && message.content.trim().length > 0;
  }

  /** Extractive: each older turn contributes its first sentence; the newest lines win when space runs out. */
  private async refreshSummary(
    conversationId: string,
    stored: { summary: string | null; summarySeq: number },
    uptoSeq: number,
    maxTokens: number,
  ): Promise<string> {
    const afterSeq = Math.max(stored.summarySeq, uptoSeq - SUMMARY_WINDOW);
    const { items } = await this.messages.history(conversationId, { limit: SUMMARY_WINDOW, afterSeq, beforeSeq: uptoSeq + 1 });
    const names = await this.users.findDisplayNames(items.map((m) => m.authorId));
    const lines = [...(stored.summary ? stored.summary.split('\n') : []), ...items.filter((m) => this.isTurn(m)).map((m) => this.summaryLine(m, names))];
    const summary = this.fit(lines, maxTokens);
    // Stored while the provider is asked, unless what it was worked out from changed meanwhile: a
    // summary not stored is only worked out again next time.
    const from = { ...stored, readAfter: afterSeq, readVersion: Math.max(0, ...items.map((m) => m.version)) };
    this.conversations
      .updateSummary(conversationId, summary, uptoSeq, from)
      .catch((error: unknown) => this.logger.warn(`Could not store the summary of ${conversationId}: ${String(error)}`));
    return summary;
  }

  private summaryLine(message: MessageEntity, names: Map<string, string>): string {
    const who = message.role === 'assistant' ? 'Agent' : (message.authorId && names.get(message.authorId)) || 'Someone';
    const text = message.content.replace(/\s+/g, ' ').trim();
    const sentence = text.match(/^.*?[.!?](\s|$)/)?.[0]?.trim() ?? text;
    return `- ${who}: ${sentence.length > SUMMARY_LINE_CHARS ? `${sentence.slice(0, SUMMARY_LINE_CHARS - 1)}…` : sentence}`;
  }

  private fit(lines: string[], maxTokens: number): string {
    const kept: string[] = [];
    let used = 0;
    for (const line of lines.toReversed()) {
      const cost = tokensOf(line) + 1;
      if (used + cost > maxTokens) break;
      used += cost;
      kept.unshift(line);
    }
    return kept.join('\n');
  }
}
