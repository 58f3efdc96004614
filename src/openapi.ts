import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, type OperationObject, type ParameterObject, SwaggerModule } from '@nestjs/swagger';
import { addBodyErrors, ERROR_MODELS, GLOBAL_ERROR_RESPONSES } from './common/decorators/api-errors.decorator.js';

/** The tags every operation is filed under, in the order the docs show them. */
const OPENAPI_TAGS: Record<string, string> = {
  auth: 'Accounts and sessions: register, sign in, refresh and sign out',
  conversations: 'Conversations, their participants, agent settings and read markers',
  messages: 'Messages, agent runs and the live event stream of a conversation',
  agent: 'The tools the agent can use, for choosing which ones a conversation may',
  approvals: 'Tool calls the agent waits on: approve or deny them, list what waits',
  chat: "The Vercel AI SDK's useChat endpoints (UI message stream protocol v1)",
  documents: 'Uploaded files: your private library and the documents of conversations',
  export: 'Downloads of a conversation or of all your data',
  stats: 'Usage counts',
  admin: 'Administration (admins only): user roles and the audit trail',
  health: 'Liveness and readiness probes (no /api/v1 prefix)',
};

/** Sorted keys where order carries no meaning, so the committed document diffs cleanly. */
function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Every path parameter is a UUID (each one goes through uuidParam), named the same way on every
 * route: described here once rather than on each of the 30-odd handlers.
 */
const PATH_PARAMETERS: Record<string, string> = {
  id: 'The conversation',
  messageId: 'A message of the conversation',
  runId: 'An agent run of the conversation',
  userId: 'A participant of the conversation',
};

function describePathParameters(operation: OperationObject): void {
  for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
    if (parameter.in !== 'path') continue;
    parameter.description ??= PATH_PARAMETERS[parameter.name];
    parameter.schema = { type: 'string', format: 'uuid' };
  }
}

/** What the decorators cannot say, said once for every operation; keys sorted where order means nothing. */
function finishOpenApiDocument(document: OpenAPIObject): OpenAPIObject {
  addBodyErrors(document);
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as OperationObject[]) {
      // @ApiBearerAuth marks every authenticated operation; the rest are public, and say so.
      operation.security ??= [];
      operation.responses = sortedKeys(operation.responses);
      describePathParameters(operation);
    }
  }
  document.paths = sortedKeys(document.paths);
  if (document.components?.schemas) document.components.schemas = sortedKeys(document.components.schemas);
  return document;
}

/** The OpenAPI document of the app: served at /api/docs-json and committed as docs/openapi.json. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Agent Chat API')
    .setDescription(
      'Real-time chat with an AI agent. REST under /api/v1; Socket.IO on the /chat namespace; ' +
        'errors share one shape: {statusCode, error, code, message, details?, requestId}.',
    )
    .setVersion('1.0')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'This server')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    // Kept by @nestjs/swagger for the whole process; adding the same responses again changes nothing.
    .addGlobalResponse(...GLOBAL_ERROR_RESPONSES);
  for (const [name, description] of Object.entries(OPENAPI_TAGS)) builder.addTag(name, description);
  return finishOpenApiDocument(SwaggerModule.createDocument(app, builder.build(), { extraModels: ERROR_MODELS }));
}
