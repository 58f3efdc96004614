import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { SearchScope } from '../../documents/document-search.service.js';
import type { ToolContext } from './agent-tool.js';

/**
 * What a search tool may read for one run. Everyone in the conversation reads the reply, now and
 * once they are added later: with other people in it, only this conversation and its documents;
 * when the user who asked is alone in it, also what that user put in themselves elsewhere (their
 * private library, their uploads and their own messages in other conversations) — never what
 * other people wrote or uploaded elsewhere, which someone added here later could not read.
 */
export async function searchScope(conversations: ConversationsRepository, { conversationId, userId }: ToolContext): Promise<SearchScope> {
  const participants = (await conversations.findView(conversationId))?.participants ?? [];
  const alone = !!userId && participants.length > 0 && participants.every((participant) => participant.userId === userId);
  return alone ? { conversationId, ownerId: userId } : { conversationId };
}
