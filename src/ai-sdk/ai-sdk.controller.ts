import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Res } from '@nestjs/common';
import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RunDto } from '../agent/dto/run.dto.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AcceptsStreamTicket, Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { CurrentRequest, type RequestMeta } from '../common/http/request-meta.js';
import { EventStreams } from '../chat/event-streams.service.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { createValidationPipe } from '../common/pipes/validation.pipe.js';
import { AiSdkService, type Answer } from './ai-sdk.service.js';
import { ChatRequestDto } from './dto/ai-sdk.dto.js';
import { openUiMessageStream } from './ui-message-stream.js';

const UI_MESSAGE_STREAM = {
  description:
    'UI message stream protocol v1 (`x-vercel-ai-ui-message-stream: v1`): `data: <chunk>` frames — start {messageId: the reply\'s id}, ' +
    'start-step, data-message / data-run (our ids, seq and version), text-start/-delta/-end, tool-input-available, ' +
    'tool-output-available / tool-output-error, tool-approval-request {approvalId: our approval\'s id, toolCallId} (a call waiting for approval: ' +
    'the message then ends with finish {finishReason: "tool-calls"}), tool-output-denied (a call denied or expired), source-document (each document passage or message the reply cites, once, as soon as a search ' +
    "finds it: sourceId `<document id>#<chunk>` or the message's id, the source itself under providerMetadata.agentChat), finish-step, finish {finishReason} " +
    '(or error {errorText} / abort) — then `data: [DONE]`.',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
};

const LENIENT = createValidationPipe({ allowUnknownFields: true });

/** The useChat endpoint's path under the API prefix (its body limit is its own: CHAT_BODY_LIMIT). */
export const CHAT_ROUTE = 'chat';

/** The endpoints of the Vercel AI SDK's `useChat` with `DefaultChatTransport({ api: '/api/v1/chat' })`. */
@ApiTags('chat')
@Authenticated()
@Controller(CHAT_ROUTE)
export class AiSdkController {
  constructor(
    private readonly aiSdk: AiSdkService,
    private readonly streams: EventStreams,
  ) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'sendChatMessage',
    summary: 'useChat: send the last user message (or regenerate) and stream the reply',
    description:
      'The last message of `messages` is the new user message, its `id` the idempotency key: a retry streams the same reply again. ' +
      'The history comes from the server; the rest of `messages` is not read. `regenerate-message` answers again the user message ' +
      'that `messageId` (a reply) answered, else the last user message. When the agent mode does not answer the message, the stream ' +
      'is start, data-message (the stored message), finish {finishReason: "other"}. Closing the connection does not stop the reply. ' +
      'A last message from the assistant answers its approval requests (`addToolApprovalResponse`): its tool parts in state ' +
      '`approval-responded` ({toolCallId, approval: {id, approved, reason?}}) are decided as the caller (the user who asked or the owner; ' +
      'an approval already decided the same way is not an error), nothing is stored, and the stream continues that reply (same messageId) ' +
      'from where the client\'s copy ends: the decided calls\' outcomes, then the rest of the reply.',
  })
  @ApiBody({ type: ChatRequestDto })
  @ApiOkResponse(UI_MESSAGE_STREAM)
  @ApiErrors(400, 403, 404, 409, 413, 429)
  async send(@CurrentUser() user: AuthUser, @Body() body: unknown, @CurrentRequest() meta: RequestMeta, @Res() reply: FastifyReply): Promise<void> {
    // Typed `unknown`, the global pipe leaves the body alone: useChat's `body` option adds fields
    // of the app's own at the top level, which this route drops instead of refusing.
    const request = (await LENIENT.transform(body, { type: 'body', metatype: ChatRequestDto })) as ChatRequestDto;
    this.answer(reply, user, request.id, await this.aiSdk.submit(user, request, meta));
  }

  @Get(':id/stream')
  @AcceptsStreamTicket()
  @ApiOperation({
    operationId: 'resumeChatStream',
    summary: 'useChat resume: the reply streaming now, replayed from its start and followed live',
    description:
      'The client rebuilds the reply from scratch. A reply waiting for approvals is replayed up to its approval requests and finished there; ' +
      'once they are decided (from anywhere), resuming shows the rest. 204 when no reply is streaming (a queued one has not started).',
  })
  @ApiOkResponse(UI_MESSAGE_STREAM)
  @ApiNoContentResponse({ description: 'No reply is streaming' })
  @ApiErrors(400, 404, 429)
  async resume(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Res() reply: FastifyReply): Promise<void> {
    const answer = await this.aiSdk.resume(user, id);
    if (answer) this.answer(reply, user, id, answer);
    else await reply.status(HttpStatus.NO_CONTENT).send();
  }

  @Post(':id/stop')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'stopChatReply',
    summary: 'useChat stop: cancel the reply streaming now (its text so far is kept)',
    description: 'Call it with `stop()`: aborting the request alone only detaches the client. 204 when no reply is streaming.',
  })
  @ApiOkResponse({ type: RunDto, description: 'The cancelled run' })
  @ApiNoContentResponse({ description: 'No reply is streaming' })
  @ApiErrors(400, 403, 404)
  async stop(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Res() reply: FastifyReply): Promise<void> {
    const run = await this.aiSdk.stop(user, id);
    await (run ? reply.status(HttpStatus.OK).send(run) : reply.status(HttpStatus.NO_CONTENT).send());
  }

  private answer(reply: FastifyReply, user: AuthUser, conversationId: string, answer: Answer): void {
    let session: ReturnType<EventStreams['claim']> | undefined;
    let stream: ReturnType<typeof openUiMessageStream>;
    try {
      session = this.streams.claim(user, 'ai_sdk_chat', conversationId);
      stream = openUiMessageStream(reply, session);
    } catch (error) {
      // Refused (too many streams), or the response could not be taken over: nothing is played.
      session?.release?.({ reason: 'client_closed', events: 0 });
      answer.abandon();
      throw error;
    }
    answer.play(stream);
  }
}
