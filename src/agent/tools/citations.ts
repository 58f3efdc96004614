import { type MessageHit, type MessageSource, messageSource } from '../../messages/message-source.js';
import { type DocumentSearchOutput, documentSources, SEARCH_DOCUMENTS } from './search-documents.js';

export const SEARCH_HISTORY = 'search_history';

/**
 * The sources a tool's result names: the passages search_documents found, the messages
 * search_history found; none for other tools. Read wherever a result is seen (the run that made
 * it, or a stream that hears of it), so that both cite the same sources.
 */
export function citationsOf(toolName: string, output: unknown): MessageSource[] {
  if (toolName === SEARCH_HISTORY && Array.isArray(output)) return (output as MessageHit[]).map(messageSource);
  if (toolName === SEARCH_DOCUMENTS && Array.isArray((output as DocumentSearchOutput | undefined)?.results)) return documentSources(output as DocumentSearchOutput);
  return [];
}
