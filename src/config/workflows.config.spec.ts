import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { parseMcpServers } from './mcp.config.js';
import { parseWorkflows, parseWorkflowsSettings } from './workflows.config.js';

const SECRET = 's3cr3t-0123456789abcdef';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'agentchat-workflows-config-')), 'workflows.json');
  writeFileSync(path, content);
  return path;
}

function workflow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    description: 'Opens a ticket',
    inputSchema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
    url: 'https://hooks.example.com/tickets?token=query-credential',
    secret: SECRET,
    ...overrides,
  };
}

function errorOf(run: () => unknown): Error | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('WORKFLOWS_CONFIG', () => {
  it('reads inline JSON with its defaults, and the retry settings', () => {
    const settings = parseWorkflowsSettings({ WORKFLOWS_CONFIG: JSON.stringify({ tickets: workflow() }) });
    expect(settings).toMatchObject({ maxRetries: 2, retryBaseMs: 500 });
    expect(settings.workflows).toHaveLength(1);
    const [tickets] = settings.workflows;
    expect(tickets).toMatchObject({ name: 'tickets', description: 'Opens a ticket', secret: SECRET, timeoutMs: 10_000, approval: 'always' });
    expect(tickets!.responseSchema).toBeUndefined();
    expect(tickets!.inputSchema.jsonSchema).toEqual(workflow().inputSchema);
    expect(() => tickets!.inputSchema.check('workflow__tickets', { title: 'Printer on fire' })).not.toThrow();
    expect(() => tickets!.inputSchema.check('workflow__tickets', {})).toThrow(/Invalid arguments for workflow__tickets/);
    expect(parseWorkflowsSettings({ WORKFLOW_MAX_RETRIES: '0', WORKFLOW_RETRY_BASE_MS: '20' })).toEqual({ workflows: [], maxRetries: 0, retryBaseMs: 20 });
  });

  it('reads a file, with a policy, a timeout and a response schema', () => {
    const path = file(JSON.stringify({ 'deploy-2': workflow({ approval: 'never', timeoutMs: 2500, responseSchema: { type: 'object', required: ['id'] } }) }));
    const [deploy] = parseWorkflowsSettings({ WORKFLOWS_CONFIG: path }).workflows;
    expect(deploy).toMatchObject({ name: 'deploy-2', approval: 'never', timeoutMs: 2500 });
    expect(deploy!.responseSchema!({ id: 1 })).toBeUndefined();
    expect(deploy!.responseSchema!({})).toMatch(/must have required property 'id'/);
  });

  it.each([
    ['a name too long for a tool name', { ['n'.repeat(49)]: workflow() }, /workflow names are 1 to 48/],
    ['a name with a dot', { 'a.b': workflow() }, /workflow names are/],
    ['too many workflows', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`w${i}`, workflow()])), /at \(root\): at most 64 workflows/],
    ['a short secret', { w: workflow({ secret: 'short' }) }, /at w\.secret: expected at least 16 characters/],
    ['a URL that is not http', { w: workflow({ url: 'ftp://files.example.com/x' }) }, /at w\.url: expected an http or https URL/],
    ['credentials in the URL', { w: workflow({ url: 'https://user:pa55word@hooks.example.com/' }) }, /at w\.url: credentials in the URL are not supported/],
    ['a timeout below 100 ms', { w: workflow({ timeoutMs: 99 }) }, /at w\.timeoutMs/],
    ['a timeout above 5 minutes', { w: workflow({ timeoutMs: 300_001 }) }, /at w\.timeoutMs/],
    ['an unknown approval policy', { w: workflow({ approval: 'sometimes' }) }, /at w\.approval/],
    ['an unknown key', { w: workflow({ headers: {} }) }, /at w: /],
    ['a missing description', { w: workflow({ description: undefined }) }, /at w\.description/],
    ['an input schema that is not an object schema', { w: workflow({ inputSchema: { type: 'string' } }) }, /at w\.inputSchema: the input schema does not describe an object/],
    ['an input schema that does not compile', { w: workflow({ inputSchema: { type: 'object', properties: { a: { type: 'no-such-type' } } } }) }, /at w\.inputSchema: /],
    ['a response schema that does not compile', { w: workflow({ responseSchema: { type: 7 } }) }, /at w\.responseSchema: /],
    ['a workflow that is not an object', { w: 'https://hooks.example.com' }, /at w: /],
  ])('refuses %s with a one-line error that names the path', (_, document, expected) => {
    const error = errorOf(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: JSON.stringify(document) }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(/^Invalid WORKFLOWS_CONFIG: the inline JSON at /);
    expect(error!.message).toMatch(expected);
    expect(error!.message).not.toContain('\n');
    expect(error!.message).not.toContain(SECRET);
    expect(error!.message).not.toContain('query-credential');
    expect(error!.message).not.toContain('pa55word');
  });

  it('refuses a file it cannot read, one too large, and invalid JSON, without quoting it', () => {
    expect(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: join(tmpdir(), 'no-such-dir-agentchat', 'w.json') })).toThrow(`cannot read ${join(tmpdir(), 'no-such-dir-agentchat', 'w.json')} (ENOENT)`);
    expect(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: file(' '.repeat(1_048_577)) })).toThrow(/is larger than 1048576 bytes/);
    const broken = `{"w": {"secret": ${SECRET}}}`;
    const error = errorOf(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: broken }));
    expect(error?.message).toBe('Invalid WORKFLOWS_CONFIG: the inline JSON is not valid JSON');
    expect(errorOf(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: file(broken) }))?.message).not.toContain('s3cr3t');
  });

  it('refuses retry settings out of range', () => {
    expect(() => parseWorkflowsSettings({ WORKFLOW_MAX_RETRIES: '11' })).toThrow(/WORKFLOW_MAX_RETRIES/);
    expect(() => parseWorkflowsSettings({ WORKFLOW_RETRY_BASE_MS: '0' })).toThrow(/WORKFLOW_RETRY_BASE_MS/);
  });

  it('keeps the MCP server name "workflow" for workflow tools, so that tool names never clash', () => {
    expect(() => parseMcpServers({ servers: { workflow: { command: 'node' } } }, 'mcp.json')).toThrow(/"workflow" is taken by the tools of WORKFLOWS_CONFIG/);
  });

  it('either accepts any JSON document or refuses it with a ConfigError that never carries the secret', () => {
    const secret = fc.stringMatching(/^[a-f0-9]{24,40}$/).map((hex) => `whsec-${hex}`);
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), secret, fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 4 }), (document, field, key, extra) => {
        for (const json of [document, { w: field }, { w: { ...workflow({ secret: key }), ...extra } }, { w: workflow({ secret: key, inputSchema: field }) }]) {
          const error = errorOf(() => parseWorkflows(json, 'workflows.json'));
          if (error === undefined) continue;
          expect(error).toBeInstanceOf(ConfigError);
          expect(error.message).not.toContain(key);
          expect(error.message).not.toContain('\n');
        }
      }),
    );
  });

  it('refuses any inline text that is not a valid document with a ConfigError that never quotes it', () => {
    fc.assert(
      fc.property(fc.string(), fc.stringMatching(/^[a-f0-9]{24}$/), (text, hex) => {
        const value = `{"w": {"secret": "whsec-${hex}", ${text}`;
        const error = errorOf(() => parseWorkflowsSettings({ WORKFLOWS_CONFIG: value }));
        expect(error).toBeInstanceOf(ConfigError);
        expect(error!.message).not.toContain(hex);
      }),
    );
  });
});
