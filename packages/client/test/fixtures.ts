import type { MessageDto } from '@agent-chat/client';

let seq = 0;

/** A message as the server answers it, with what a test cares about overridden. */
export function message(overrides: Partial<MessageDto> = {}): MessageDto {
  seq++;
  return {
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    version: seq,
    role: 'user',
    authorId: 'u1',
    content: `message ${seq}`,
    status: 'complete',
    clientMessageId: null,
    runId: null,
    metadata: {},
    createdAt: new Date(0).toISOString(),
    editedAt: null,
    deletedAt: null,
    ...overrides,
  } as MessageDto;
}
