import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import formats, { type FormatsPlugin } from 'ajv-formats';

// ajv-formats is CommonJS: TypeScript sees its module object where Node hands over the plugin (which has itself as `default`).
const addFormats = (formats as unknown as { default: FormatsPlugin }).default;

interface MediaType {
  schema?: object;
}
interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, MediaType>; headers?: Record<string, { required?: boolean }> }>;
}
type PathItem = Record<string, Operation>;
interface Document {
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, object> };
}

export interface CheckedResponse {
  method: string;
  /** The request path, query string allowed. */
  path: string;
  status: number;
  headers: Headers;
  /** The body as received; JSON is parsed here. */
  text: string;
}

/**
 * Paths the document leaves out on purpose. Every other response must be documented: its path,
 * method and status, and its body must match the documented schema of its media type.
 */
const UNDOCUMENTED: { pattern: RegExp; reason: string }[] = [
  { pattern: /^\/api\/docs(?:-json|-yaml|\/.*)?$/, reason: 'the document itself and Swagger UI' },
  { pattern: /^\/metrics$/, reason: 'Prometheus text for scrapers, outside the API (excluded from the document)' },
];

/** The document's error body schema, for answers to paths or methods no operation has (Fastify's own 404). */
const ERROR_SCHEMA = 'ErrorResponseDto';

const documentFile = new URL('../../docs/openapi.json', import.meta.url);

function templateRegExp(template: string): RegExp {
  const segments = template.split('/').map((segment) => (segment.startsWith('{') ? '[^/]+' : segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/**
 * The document's schemas, closed: an object with listed properties may have no others. The
 * document stays open for clients; here a field it does not list fails the response.
 */
function closed<T>(node: T): T {
  if (Array.isArray(node)) return node.map(closed) as T;
  if (!node || typeof node !== 'object') return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, key === 'example' ? value : closed(value)])) as Record<string, unknown>;
  if (copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy as T;
}

/** A schema of the document, compiled on its own: its references point into the registered components. */
function standalone(schema: object): object {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/')) as object;
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Validates real responses against docs/openapi.json. */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly templates: { template: string; regExp: RegExp; literals: number }[];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: Document = JSON.parse(readFileSync(documentFile, 'utf8')) as Document) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'openapi.json', components: closed(this.document.components) });
    // The most literal template wins: /auth/me/export before /conversations/{id}/export and the like.
    this.templates = Object.keys(document.paths)
      .map((template) => ({ template, regExp: templateRegExp(template), literals: template.split('/').filter((part) => !part.startsWith('{')).length }))
      .sort((a, b) => b.literals - a.literals);
  }

  /** Every problem with the response; none when it is documented and its body matches. */
  problems(response: CheckedResponse): string[] {
    const method = response.method.toLowerCase();
    const path = response.path.split('?')[0]!;
    if (method === 'options' || method === 'head' || UNDOCUMENTED.some(({ pattern }) => pattern.test(path))) return [];
    const template = this.templates.find(({ regExp }) => regExp.test(path))?.template;
    const operation = template ? this.document.paths[template]![method] : undefined;
    if (!template || !operation) {
      // No route: Fastify's not-found answer, in the common error shape.
      if (response.status !== 404) return [`${method.toUpperCase()} ${path}: no operation in the document, yet answered ${response.status}`];
      return this.schemaProblems(ERROR_SCHEMA, { $ref: `openapi.json#/components/schemas/${ERROR_SCHEMA}` }, parsed(response.text));
    }
    const name = `${operation.operationId} (${method.toUpperCase()} ${template}) ${response.status}`;
    const documented = operation.responses[String(response.status)];
    if (!documented) return [`${name}: status not documented (documented: ${Object.keys(operation.responses).join(', ')})`];
    const missing = Object.entries(documented.headers ?? {}).filter(([header, { required }]) => required && !response.headers.has(header));
    if (missing.length) return [`${name}: documented header ${missing.map(([header]) => header).join(', ')} missing`];
    if (!documented.content) return response.text === '' ? [] : [`${name}: documented without a body, but one came`];
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = documented.content[mediaType];
    if (!media) return [`${name}: media type ${mediaType || '(none)'} not documented (documented: ${Object.keys(documented.content).join(', ')})`];
    if (!media.schema) return [];
    const value = mediaType === 'application/json' ? parsed(response.text) : response.text;
    return this.schemaProblems(`${name} ${mediaType}`, closed(standalone(media.schema)), value).map((problem) => `${name}: ${problem}`);
  }

  private schemaProblems(key: string, schema: object, value: unknown): string[] {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(key, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || '(body)'} ${error.message ?? 'is not valid'} ${JSON.stringify(error.params)}`);
  }
}

let shared: OpenApiValidator | undefined;

/** Throws when a response does not match the document (one validator per test file). */
export function assertDocumentedResponse(response: CheckedResponse): void {
  shared ??= new OpenApiValidator();
  const problems = shared.problems(response);
  if (problems.length) {
    throw new Error(
      `The response does not match docs/openapi.json (fix the OpenAPI decorators, then run \`npm run openapi\`):\n${problems.join('\n')}\n` +
        `body: ${response.text.slice(0, 2000)}`,
    );
  }
}

/**
 * The same check for a response a test fetched itself. A stream's body is only a string in the
 * document, so its status and media type are what is checked; other bodies are read from a clone.
 */
export async function assertDocumentedFetch(response: Response, method = 'GET'): Promise<void> {
  const stream = response.headers.get('content-type')?.startsWith('text/event-stream');
  const text = stream ? '' : await response.clone().text();
  assertDocumentedResponse({ method, path: new URL(response.url).pathname, status: response.status, headers: response.headers, text });
}
