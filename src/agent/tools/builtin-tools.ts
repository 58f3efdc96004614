import { z } from 'zod';
import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { DocumentSearchService, SearchScope } from '../../documents/document-search.service.js';
import type { MessageHit } from '../../messages/message-source.js';
import type { MessageSearchScope, MessagesRepository } from '../../messages/messages.repository.js';
import type { ContextService } from '../context.service.js';
import { type AgentTool, defineTool } from './agent-tool.js';
import { calculate, formatNumber } from './calculator.js';
import { SEARCH_HISTORY } from './citations.js';
import { searchDocuments } from './search-documents.js';
import { searchScope } from './search-scope.js';

interface ToolSources {
  messages: MessagesRepository;
  conversations: ConversationsRepository;
  context: ContextService;
  documents: DocumentSearchService;
}

/** The tools every provider (the builtin agent included) may call. */
export function builtinTools(sources: ToolSources): AgentTool<never>[] {
  return [
    searchHistory(sources),
    searchDocuments(sources.conversations, sources.documents),
    currentTime(),
    calculator(),
    conversationStats(sources),
    summarizeConversation(sources),
  ];
}

function searchHistory({ messages, conversations }: ToolSources): AgentTool<never> {
  return defineTool({
    name: SEARCH_HISTORY,
    description:
      "Full-text search over the messages of this conversation (and the user's own messages elsewhere when the user is alone in this one). " +
      'Returns matching excerpts, matches in **bold**, with where they were said.',
    schema: z.object({
      query: z.string().trim().min(1).max(200).describe('Words or phrases to look for (web-search syntax)'),
      limit: z.number().int().min(1).max(20).optional().describe('How many results (default 5)'),
    }),
    execute: async ({ query, limit }, context): Promise<(MessageHit & { createdAt: string })[]> => {
      const scope = await searchScope(conversations, context);
      const hits = await messages.search(context.userId, query, limit ?? 5, { start: '**', stop: '**' }, historyScope(scope));
      return hits.map((hit) => ({
        messageId: hit.message.id,
        conversationId: hit.message.conversationId,
        conversationTitle: hit.conversationTitle,
        seq: hit.message.seq,
        excerpt: hit.snippet,
        score: hit.rank,
        createdAt: hit.message.createdAt.toISOString(),
      }));
    },
  });
}

/** The messages a scope reads: its conversation's, and with an owner, that user's own elsewhere. */
function historyScope(scope: SearchScope): MessageSearchScope {
  if ('ownerId' in scope) return { conversationId: scope.conversationId, ownMessagesElsewhere: true };
  return 'conversationId' in scope ? { conversationId: scope.conversationId } : {};
}

/** Valid IANA time zone names only (Intl throws a RangeError for the rest). */
function isTimeZone(value: string): boolean {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone.length > 0;
  } catch {
    return false;
  }
}

function currentTime(): AgentTool<never> {
  return defineTool({
    name: 'get_current_time',
    description: 'The current date and time, optionally in a given IANA time zone such as Europe/Paris.',
    schema: z.object({
      timezone: z.string().max(64).refine(isTimeZone, 'unknown time zone').optional().describe('IANA time zone; UTC when omitted'),
    }),
    execute: async ({ timezone }) => {
      const now = new Date();
      const timeZone = timezone ?? 'UTC';
      const local = new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'full', timeStyle: 'long' }).format(now);
      return { iso: now.toISOString(), timezone: timeZone, local };
    },
  });
}

function calculator(): AgentTool<never> {
  return defineTool({
    name: 'calculator',
    description: 'Evaluates an arithmetic expression: + - * / % ^, parentheses, sqrt, abs, round, floor, ceil, sin, cos, tan, ln, log, exp, min, max, pi, e.',
    schema: z.object({ expression: z.string().min(1).max(500).describe('For example (2 + 3) * 4 ^ 2') }),
    execute: async ({ expression }) => ({ expression, result: formatNumber(calculate(expression)) }),
  });
}

function conversationStats({ messages, conversations }: ToolSources): AgentTool<never> {
  return defineTool({
    name: 'conversation_stats',
    description: 'Counts for the current conversation: messages by role, participants, the latest sequence number.',
    schema: z.object({}),
    execute: async (_, { conversationId }) => {
      const view = await conversations.findView(conversationId);
      const byRole = await messages.countByRole(conversationId);
      return {
        title: view?.title ?? '',
        participants: view?.participants.length ?? 0,
        lastSeq: view?.lastSeq ?? 0,
        messages: Object.values(byRole).reduce((sum, count) => sum + count, 0),
        byRole,
      };
    },
  });
}

function summarizeConversation({ context }: ToolSources): AgentTool<never> {
  return defineTool({
    name: 'summarize_conversation',
    description: 'A summary of the current conversation so far, one line per turn, newest kept when long.',
    schema: z.object({ maxTokens: z.number().int().min(50).max(4000).optional() }),
    execute: async ({ maxTokens }, { conversationId }) => context.summarize(conversationId, maxTokens ?? 600),
  });
}
