/**
 * The JSON schema Fastify compiles a serializer from (fast-json-stringify) for a page of history,
 * the most requested response. It lists every field of HistoryPageDto and MessageDto (a field
 * missing here would be dropped: a spec holds the lists to the OpenAPI document, and the output
 * to JSON.stringify's); metadata and attachment details are written whole (additionalProperties).
 */
const text = { type: 'string' } as const;
const textOrNull = { type: ['string', 'null'] } as const;
// 'number', not 'integer': fast-json-stringify truncates what an integer schema is given.
const count = { type: 'number' } as const;

const attachment = {
  type: 'object',
  properties: { id: text, filename: text, mediaType: text, bytes: count },
  additionalProperties: true,
} as const;

export const MESSAGE_SERIALIZATION_SCHEMA = {
  type: 'object',
  properties: {
    id: text,
    conversationId: text,
    seq: count,
    version: count,
    role: text,
    authorId: textOrNull,
    content: text,
    status: text,
    clientMessageId: textOrNull,
    runId: textOrNull,
    metadata: { type: 'object', additionalProperties: true },
    attachments: { type: 'array', items: text },
    attachmentDetails: { type: 'array', items: attachment },
    createdAt: text,
    editedAt: textOrNull,
    deletedAt: textOrNull,
    feedback: { type: 'object', properties: { up: count, down: count } },
  },
} as const;

export const HISTORY_PAGE_SERIALIZATION_SCHEMA = {
  type: 'object',
  properties: {
    items: { type: 'array', items: MESSAGE_SERIALIZATION_SCHEMA },
    hasMore: { type: 'boolean' },
  },
} as const;
