import { z } from 'zod';
import { APPROVAL_POLICIES, type ApprovalPolicy } from '../common/tools/external-tool.js';
import { type CompiledSchema, compileInputSchema, compileJsonSchema, type SchemaCheck } from '../common/tools/json-schema.js';
import { ConfigError, type Env, readInt, readString } from './env.js';
import { checkJson, httpUrl, parseJsonText, readJsonFile } from './json-config.js';

/** Workflow tools are named `workflow__<name>`; no MCP server may take this name. */
export const WORKFLOW_TOOL_PREFIX = 'workflow';
/** 48 characters keep `workflow__<name>` within the 64 every provider accepts. */
const WORKFLOW_NAME = /^[A-Za-z0-9_-]{1,48}$/;
const MAX_WORKFLOWS = 64;
const VARIABLE = 'WORKFLOWS_CONFIG';

export function workflowToolName(name: string): string {
  return `${WORKFLOW_TOOL_PREFIX}__${name}`;
}

const jsonObject = z.record(z.string(), z.unknown());

const workflowEntry = z
  .object({
    description: z.string().min(1).max(4096),
    inputSchema: jsonObject,
    // fetch refuses URLs with credentials; the secret is how a receiver knows the sender.
    url: httpUrl.refine((value) => {
      const url = new URL(value);
      return url.username === '' && url.password === '';
    }, 'credentials in the URL are not supported: the receiver checks the signature'),
    secret: z.string().min(16, 'expected at least 16 characters').max(4096, 'expected at most 4096 characters'),
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    // Workflows act on other systems, so calls wait for approval unless configured otherwise.
    approval: z.enum(APPROVAL_POLICIES).default('always'),
    responseSchema: jsonObject.optional(),
  })
  .strict();

const configDocument = z
  .record(z.string(), jsonObject)
  .refine((workflows) => Object.keys(workflows).length <= MAX_WORKFLOWS, `at most ${MAX_WORKFLOWS} workflows`);

export interface WorkflowSettings {
  name: string;
  description: string;
  url: string;
  /** The HMAC key of the signature; never logged nor put in an error. */
  secret: string;
  timeoutMs: number;
  approval: ApprovalPolicy;
  inputSchema: CompiledSchema;
  /** Checks a JSON answer, when the workflow declares what it answers. */
  responseSchema?: SchemaCheck;
}

export interface WorkflowsSettings {
  workflows: WorkflowSettings[];
  /** Retries of a delivery answered with 5xx or 429, or lost to the network, within the call's time. */
  maxRetries: number;
  /** First wait before a retry, doubled on each one, with jitter. */
  retryBaseMs: number;
}

/** Compiles a schema of the configuration; the error says where, in one line. */
function compileAt<T>(compile: () => T, source: string, where: string): T {
  try {
    return compile();
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 300);
    throw new ConfigError(`Invalid ${VARIABLE}: ${source} at ${where}: ${reason}`);
  }
}

function parseWorkflow(name: string, value: unknown, source: string): WorkflowSettings {
  if (!WORKFLOW_NAME.test(name)) {
    throw new ConfigError(`Invalid ${VARIABLE}: ${source} at (root): workflow names are 1 to 48 letters, digits, "_" or "-", got "${name.slice(0, 40)}"`);
  }
  const { inputSchema, responseSchema, ...entry } = checkJson(VARIABLE, workflowEntry, value, source, [name]);
  return {
    name,
    ...entry,
    inputSchema: compileAt(() => compileInputSchema(inputSchema), source, `${name}.inputSchema`),
    ...(responseSchema && { responseSchema: compileAt(() => compileJsonSchema(responseSchema), source, `${name}.responseSchema`) }),
  };
}

/** The workflows of a WORKFLOWS_CONFIG document. Secrets and URLs never appear in an error: it names paths only. */
export function parseWorkflows(json: unknown, source: string): WorkflowSettings[] {
  const document = checkJson(VARIABLE, configDocument, json, source, []);
  return Object.entries(document).map(([name, value]) => parseWorkflow(name, value, source));
}

/** WORKFLOWS_CONFIG is the JSON itself when it starts with `{`, otherwise the path of a JSON file. */
function readDocument(value: string): { json: unknown; source: string } {
  if (value.startsWith('{')) return { json: parseJsonText(VARIABLE, value, 'the inline JSON'), source: 'the inline JSON' };
  return { json: readJsonFile(VARIABLE, value), source: value };
}

export function parseWorkflowsSettings(env: Env): WorkflowsSettings {
  const value = readString(env, VARIABLE);
  const document = value === undefined ? undefined : readDocument(value);
  return {
    workflows: document === undefined ? [] : parseWorkflows(document.json, document.source),
    maxRetries: readInt(env, 'WORKFLOW_MAX_RETRIES', 2, { min: 0, max: 10 }),
    retryBaseMs: readInt(env, 'WORKFLOW_RETRY_BASE_MS', 500, { min: 1, max: 60_000 }),
  };
}
