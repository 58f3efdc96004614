import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { SearchScope } from '../../documents/document-search.service.js';
import type { ToolContext } from './agent-tool.js';

/**
 * What a search tool may read for one run. Everyone in the conversation reads the reply: with
 * other people in it, only this conversation and its documents; when the user who asked is alone
 * in it, everything that user can read (their library and all their conversations).
 */
export async function searchScope(conversations: ConversationsRepository, { conversationId, userId }: ToolContext): Promise<SearchScope> {
  const participants = (await conversations.findView(conversationId))?.participants ?? [];
  const alone = !!userId && participants.length > 0 && participants.every((participant) => participant.userId === userId);
  return alone ? { userId } : { conversationId };
}
