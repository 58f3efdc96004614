import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ERROR_CODES } from '../../src/common/errors.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Operation {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; description?: string }[];
  responses: Record<string, unknown>;
}

/** The verbs operationIds start with: `listConversations`, `sendMessage`, `checkReadiness`. */
const VERBS = [
  'add', 'cancel', 'check', 'create', 'decide', 'delete', 'download', 'edit', 'export', 'get', 'list', 'login', 'logout', 'mark',
  'refresh', 'regenerate', 'register', 'remove', 'resume', 'search', 'send', 'set', 'stop', 'stream', 'update', 'upload',
];
const VERB_PHRASE = new RegExp(`^(?:${VERBS.join('|')})(?:[A-Z][a-z0-9]*)*$`);

describe('OpenAPI document', () => {
  let t: TestApp;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let document: any;
  let operations: [string, Operation][];
  beforeAll(async () => {
    t = await startTestApp();
    document = (await t.http('/api/docs-json')).body;
    operations = Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as [string, Operation]),
    );
  });
  afterAll(() => t?.close());

  it('is the committed docs/openapi.json', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(document, 'docs/openapi.json is out of date with the code: run `npm run openapi` and commit the result').toEqual(committed);
  });

  it('names every operation with a unique verb phrase in lowerCamelCase', () => {
    const ids = operations.map(([, operation]) => operation.operationId);
    expect(ids.filter((id) => !VERB_PHRASE.test(id)), 'operationIds that are not a known verb phrase').toEqual([]);
    expect(ids.length).toBe(new Set(ids).size);
  });

  it('gives every operation a summary, a description, a declared tag and described parameters', () => {
    const declared = new Set((document.tags as { name: string }[]).map((tag) => tag.name));
    for (const [name, operation] of operations) {
      expect(operation.summary, name).toBeTruthy();
      expect(operation.description, name).toBeTruthy();
      expect(operation.tags?.length, name).toBeGreaterThan(0);
      for (const tag of operation.tags ?? []) expect(declared.has(tag), `${name}: tag ${tag}`).toBe(true);
      for (const parameter of operation.parameters ?? []) expect(parameter.description, `${name}: ${parameter.in} ${parameter.name}`).toBeTruthy();
    }
  });

  it('asks for the bearer token exactly where it is needed, and says so with 401', () => {
    const isPublic = (name: string) => /^(GET \/health\/|POST \/api\/v1\/auth\/(register|login|refresh)$)/.test(name);
    for (const [name, operation] of operations) {
      expect(operation.security, name).toEqual(isPublic(name) ? [] : [{ bearer: [] }]);
      expect(isPublic(name) || '401' in operation.responses, `${name} documents 401`).toBe(true);
    }
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('lists every error code the app can answer with', () => {
    expect(document.components.schemas.ErrorCode.enum).toEqual([...HTTP_ERROR_CODES]);
    for (const [name, operation] of operations) expect(Object.keys(operation.responses), name).toEqual(expect.arrayContaining(['500', '503']));
  });
});
