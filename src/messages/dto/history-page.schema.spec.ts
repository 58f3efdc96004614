import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fastJsonStringify from 'fast-json-stringify';
import { describe, expect, it } from 'vitest';
import { HISTORY_PAGE_SERIALIZATION_SCHEMA, MESSAGE_SERIALIZATION_SCHEMA } from './history-page.schema.js';
import type { MessageDto } from './message.dto.js';

type Schemas = Record<string, { properties: Record<string, unknown> }>;
const documented = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../docs/openapi.json'), 'utf8')) as { components: { schemas: Schemas } }).components.schemas;
const names = (schema: { properties: Record<string, unknown> }) => Object.keys(schema.properties).toSorted();

function message(overrides: Partial<MessageDto> = {}): MessageDto {
  return {
    id: '5f0c1f7e-8a4b-4c39-9b1e-0d5e6f7a8b9c',
    conversationId: '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9',
    seq: 7,
    version: 12,
    role: 'assistant',
    authorId: null,
    content: 'plain',
    status: 'complete',
    clientMessageId: null,
    runId: '9a8b7c6d-5e4f-4321-8fed-cba987654321',
    metadata: {},
    attachments: [],
    attachmentDetails: [],
    createdAt: '2026-01-02T03:04:05.678Z',
    editedAt: null,
    deletedAt: null,
    ...overrides,
  };
}

describe('the serialization schema of a history page', () => {
  it('lists exactly the fields the OpenAPI document gives a page, a message and an attachment', () => {
    expect(names(HISTORY_PAGE_SERIALIZATION_SCHEMA)).toEqual(names(documented.HistoryPageDto!));
    expect(names(MESSAGE_SERIALIZATION_SCHEMA)).toEqual(names(documented.MessageDto!));
    expect(names(MESSAGE_SERIALIZATION_SCHEMA.properties.attachmentDetails.items)).toEqual(names(documented.MessageAttachmentDto!));
  });

  it('writes what JSON.stringify writes, for any text and any metadata', () => {
    const serialize = fastJsonStringify(HISTORY_PAGE_SERIALIZATION_SCHEMA);
    const page = {
      items: [
        message(),
        message({
          content: 'quotes " \\ </script> \u0000\u001f \u2028\u2029 \ud800 lone, 😀 pair, \n\t',
          authorId: 'c0ffee00-0000-4000-8000-000000000000',
          clientMessageId: 'client "id"',
          metadata: { model: 'm', usage: { inputTokens: 3, outputTokens: 4.5 }, toolCalls: [{ name: 'x', args: { deep: [1, null, 'é'] } }], error: { code: 'E', message: '\u0007' } },
          attachments: ['a1'],
          attachmentDetails: [{ id: 'a1', filename: 'plan "v2".png', mediaType: 'image/png', bytes: 48213 }],
          editedAt: '2026-01-02T03:04:06.000Z',
          feedback: { up: 2, down: 1 },
        }),
        message({ content: '', deletedAt: '2026-01-03T00:00:00.000Z', seq: 2_147_483_647, version: Number.MAX_SAFE_INTEGER }),
      ],
      hasMore: true,
    };
    expect(serialize(page)).toBe(JSON.stringify(page));
    expect(serialize({ items: [], hasMore: false })).toBe('{"items":[],"hasMore":false}');
  });
});
