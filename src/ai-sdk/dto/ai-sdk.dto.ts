import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Length, ValidateBy, type ValidationOptions } from 'class-validator';

/** A useChat client sends its whole copy of the conversation; only its last user message is read. */
/** A long conversation, as useChat holds it: the body limit (CHAT_BODY_LIMIT) bounds it first. */
export const MAX_UI_MESSAGES = 10_000;
export const MAX_UI_PARTS = 100;
const MAX_PART_TYPE_LENGTH = 100;

export const CHAT_TRIGGERS = ['submit-message', 'regenerate-message'] as const;
export type ChatTrigger = (typeof CHAT_TRIGGERS)[number];

/** A UI message id, used as our clientMessageId: printable ASCII, as that key requires. */
const MESSAGE_ID = /^[\x21-\x7e]+$/;

const ROLES = ['system', 'user', 'assistant'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What is wrong with one part, if anything: it needs a `type`, and a text part a string `text`. */
function partProblem(part: unknown): string | undefined {
  if (!isObject(part) || typeof part.type !== 'string' || part.type.length === 0 || part.type.length > MAX_PART_TYPE_LENGTH) {
    return 'must be an object with a type of 1 to 100 characters';
  }
  return part.type === 'text' && typeof part.text !== 'string' ? 'is a text part without a string text' : undefined;
}

/** What is wrong with one UI message, if anything, as `<path> <problem>` (the path relative to the message). */
function messageProblem(message: unknown): string | undefined {
  if (!isObject(message)) return ' must be an object';
  const { id, role, parts } = message;
  if (typeof id !== 'string' || id.length < 1 || id.length > 100 || !MESSAGE_ID.test(id)) return '.id must be 1 to 100 printable ASCII characters without spaces';
  if (!ROLES.includes(role as never)) return `.role must be one of ${ROLES.join(', ')}`;
  if (!Array.isArray(parts) || parts.length > MAX_UI_PARTS) return `.parts must be an array of at most ${MAX_UI_PARTS} parts`;
  for (const [index, part] of parts.entries()) {
    const problem = partProblem(part);
    if (problem) return `.parts.${index} ${problem}`;
  }
  return undefined;
}

/** The first problem of a messages array, named by its path (`messages.3.parts.0 …`). */
export function messagesProblem(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return 'messages must be an array';
  if (messages.length < 1 || messages.length > MAX_UI_MESSAGES) return `messages must hold 1 to ${MAX_UI_MESSAGES} messages`;
  for (const [index, message] of messages.entries()) {
    const problem = messageProblem(message);
    if (problem) return `messages.${index}${problem}`;
  }
  return undefined;
}

/**
 * The client's copy of the conversation, checked in one cheap pass (the array is bounded before
 * any element is looked at). Only what is read is checked strictly: ids, roles and text parts.
 * Other fields and parts (tools, sources, data) are what the server sent: accepted, never read; the
 * file parts of the message sent are its attachments (read by AiSdkService).
 */
function AreUiMessages(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'areUiMessages',
      validator: {
        validate: (value: unknown) => messagesProblem(value) === undefined,
        defaultMessage: (args) => messagesProblem(args?.value) ?? 'messages are not valid',
      },
    },
    options,
  );
}

export class UiMessagePartDto {
  @ApiProperty({
    example: 'text',
    description: 'In the message sent, `text` parts are its text and `file` parts its attachments; other parts are accepted as they are',
  })
  type!: string;

  @ApiPropertyOptional({ example: 'What is /calc 2+2?' })
  text?: string;

  @ApiPropertyOptional({
    example: 'document:9b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d',
    description: 'A `file` part of the message sent names a document uploaded to the conversation: `document:<id>` (or its `…/documents/<id>/content` address)',
  })
  url?: string;
}

/** A UI message as the AI SDK sends it (documentation: the body is checked by AreUiMessages). */
export class UiMessageDto {
  @ApiProperty({ minLength: 1, maxLength: 100, pattern: '^[\\x21-\\x7e]+$', example: 'msg_8Jd2kLq0', description: 'For the new user message: its idempotency key (our clientMessageId)' })
  id!: string;

  @ApiProperty({ enum: ROLES, example: 'user' })
  role!: (typeof ROLES)[number];

  @ApiProperty({ type: [UiMessagePartDto], maxItems: MAX_UI_PARTS })
  parts!: Record<string, unknown>[];

  @ApiPropertyOptional({ description: 'Ignored (any JSON)' })
  metadata?: unknown;
}

/** The body `DefaultChatTransport` posts (AI SDK 5/6). */
export class ChatRequestDto {
  @ApiProperty({ format: 'uuid', example: '3fa85f64-5717-4562-b3fc-2c963f66afa6', description: 'The conversation (the useChat `id`)' })
  @IsUUID()
  id!: string;

  @ApiProperty({
    type: [UiMessageDto],
    minItems: 1,
    maxItems: MAX_UI_MESSAGES,
    description: "The client's copy of the conversation. The history comes from the server: only the last user message is read",
  })
  @AreUiMessages()
  messages!: UiMessageDto[];

  @ApiProperty({ enum: CHAT_TRIGGERS, example: 'submit-message' })
  @IsIn(CHAT_TRIGGERS)
  trigger!: ChatTrigger;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    example: 'msg_8Jd2kLq0',
    description: 'regenerate-message: the assistant message to answer again (or the user message to answer)',
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  messageId?: string;
}
