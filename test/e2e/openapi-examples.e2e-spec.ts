import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  type?: string;
  format?: string;
  example?: unknown;
  default?: unknown;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  readOnly?: boolean;
};

/**
 * The request body Swagger UI prefills for "Try it out", by its rules: a schema's `example`,
 * else its `default`, else the first `enum` value, else a placeholder for the type (every
 * optional property included).
 */
function sampleOf(schema: Schema, document: { components: { schemas: Record<string, Schema> } }): unknown {
  if (schema.$ref) return sampleOf(document.components.schemas[schema.$ref.split('/').at(-1)!]!, document);
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const composite = schema.allOf ?? schema.oneOf ?? schema.anyOf;
  if (composite) return Object.assign({}, ...composite.map((part) => sampleOf(part, document)));
  switch (schema.type ?? (schema.properties ? 'object' : undefined)) {
    case 'object':
      return Object.fromEntries(
        Object.entries(schema.properties ?? {})
          .filter(([, property]) => !property.readOnly)
          .map(([name, property]) => [name, sampleOf(property, document)]),
      );
    case 'array':
      return [sampleOf(schema.items ?? {}, document)];
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return true;
    case 'string':
      return { uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6', 'date-time': new Date().toISOString(), email: 'user@example.com' }[schema.format ?? ''] ?? 'string';
    default:
      return {};
  }
}

describe('OpenAPI examples', () => {
  let t: TestApp;
  let user: Registered;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let document: any;
  beforeAll(async () => {
    t = await startTestApp();
    user = await register(t);
    document = (await t.http('/api/docs-json')).body;
  });
  afterAll(() => t?.close());

  const requestSchema = (path: string, method: string): Schema => document.paths[path][method].requestBody.content['application/json'].schema;

  it('describes the agent settings of a conversation as a typed object with enums and examples', () => {
    const create = sampleOf(requestSchema('/api/v1/conversations', 'post'), document) as Record<string, unknown>;
    const agent = document.components.schemas.AgentSettingsDto;
    expect(agent.properties.mode.enum).toEqual(['auto', 'mention', 'off']);
    expect(agent.properties.provider.enum).toEqual(expect.arrayContaining(['builtin', 'openai', 'anthropic']));
    expect(create.agent).toEqual({ mode: 'auto', provider: null, model: null, systemPrompt: expect.any(String), tools: null });
    expect(create.participantIds).toEqual([]);
  });

  it('prefills a create-conversation body that the API accepts as is', async () => {
    const body = sampleOf(requestSchema('/api/v1/conversations', 'post'), document);
    const created = await t.http('/api/v1/conversations', { method: 'POST', token: user.accessToken, json: body });
    expect(created.status, created.text).toBe(201);
    expect(created.body.agent).toMatchObject((body as { agent: object }).agent);
  });

  it('prefills an update-conversation body that the API accepts as is', async () => {
    const id = (await t.http('/api/v1/conversations', { method: 'POST', token: user.accessToken, json: {} })).body.id;
    const body = sampleOf(requestSchema('/api/v1/conversations/{id}', 'patch'), document);
    const updated = await t.http(`/api/v1/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: body });
    expect(updated.status, updated.text).toBe(200);
  });

  it('prefills a send-message body that the API accepts as is', async () => {
    const id = (await t.http('/api/v1/conversations', { method: 'POST', token: user.accessToken, json: { agent: { mode: 'off' } } })).body.id;
    const body = sampleOf(requestSchema('/api/v1/conversations/{id}/messages', 'post'), document);
    const sent = await t.http(`/api/v1/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json: body });
    expect(sent.status, sent.text).toBe(201);
  });

  /** The prefilled body of an operation, found by its operationId. */
  const sampleFor = (operationId: string): Record<string, unknown> => {
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, { operationId: string }>>)) {
      for (const method of Object.keys(item)) if (item[method]!.operationId === operationId) return sampleOf(requestSchema(path, method), document) as Record<string, unknown>;
    }
    throw new Error(`no operation ${operationId}`);
  };
  const request = (method: string, path: string, json: unknown, token?: string) =>
    t.http(`/api/v1${path}`, { method, json, ...(token && { token }) });

  /**
   * Every operation with a JSON body, tried with its prefilled body as is. Ids and tokens are
   * secrets or someone else's: an example one passes validation and is then not found (404 or 401),
   * never a 400.
   */
  it('prefills a valid body for every operation that takes one', async () => {
    const own = await register(t);
    const conversation = (await request('POST', '/conversations', { agent: { mode: 'off' } }, own.accessToken)).body;
    const message = (await request('POST', `/conversations/${conversation.id}/messages`, { content: 'hello' }, own.accessToken)).body.message;
    const tried: Record<string, () => Promise<{ status: number; text: string }>> = {
      register: () => request('POST', '/auth/register', sampleFor('register')),
      login: () => request('POST', '/auth/login', sampleFor('login')),
      refreshTokens: () => request('POST', '/auth/refresh', sampleFor('refreshTokens')),
      logout: () => request('POST', '/auth/logout', sampleFor('logout'), own.accessToken),
      createConversation: () => request('POST', '/conversations', sampleFor('createConversation'), own.accessToken),
      updateConversation: () => request('PATCH', `/conversations/${conversation.id}`, sampleFor('updateConversation'), own.accessToken),
      addParticipant: () => request('POST', `/conversations/${conversation.id}/participants`, sampleFor('addParticipant'), own.accessToken),
      markConversationRead: () => request('POST', `/conversations/${conversation.id}/read`, sampleFor('markConversationRead'), own.accessToken),
      sendMessage: () => request('POST', `/conversations/${conversation.id}/messages`, sampleFor('sendMessage'), own.accessToken),
      editMessage: () => request('PATCH', `/conversations/${conversation.id}/messages/${message.id}`, sampleFor('editMessage'), own.accessToken),
      // Only replies can be rated, and this conversation has none: an unknown reply is a 404 after validation.
      setMessageFeedback: () => request('PUT', `/conversations/${conversation.id}/messages/${randomUUID()}/feedback`, sampleFor('setMessageFeedback'), own.accessToken),
      sendChatMessage: () => request('POST', '/chat', { ...sampleFor('sendChatMessage'), id: conversation.id }, own.accessToken),
      sendChatMessageAsPrefilled: () => request('POST', '/chat', sampleFor('sendChatMessage'), own.accessToken),
      // The roles guard answers before the body is read: this app has no admin.
      updateUserRole: () => request('PATCH', `/admin/users/${own.id}`, sampleFor('updateUserRole'), own.accessToken),
      // An approval is someone's tool call: an unknown one is a 404 after validation.
      decideApproval: () => request('POST', `/approvals/${randomUUID()}`, sampleFor('decideApproval'), own.accessToken),
      // Last: it changes the password of the example account that login used.
      updateCurrentUser: async () => {
        const ada = (await request('POST', '/auth/login', sampleFor('login'))).body;
        return request('PATCH', '/auth/me', sampleFor('updateCurrentUser'), ada.accessToken);
      },
    };
    const expected: Record<string, number> = {
      register: 201,
      login: 200,
      refreshTokens: 401,
      logout: 204,
      createConversation: 201,
      updateConversation: 200,
      addParticipant: 404,
      markConversationRead: 204,
      sendMessage: 201,
      editMessage: 200,
      setMessageFeedback: 404,
      sendChatMessage: 200,
      sendChatMessageAsPrefilled: 404,
      updateUserRole: 403,
      decideApproval: 404,
      updateCurrentUser: 200,
    };
    const withBodies = Object.values(document.paths as Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, unknown> } }>>)
      .flatMap((item) => Object.values(item))
      .filter((operation) => operation.requestBody?.content['application/json'])
      .map((operation) => operation.operationId);
    expect(Object.keys(tried)).toEqual(expect.arrayContaining(withBodies));
    for (const [operationId, attempt] of Object.entries(tried)) {
      const answer = await attempt();
      expect(answer.status, `${operationId}: ${answer.text}`).toBe(expected[operationId]);
    }
  });
});
