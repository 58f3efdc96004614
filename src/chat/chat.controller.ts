import { Body, Controller, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { filter, takeWhile } from 'rxjs';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AcceptsStreamTicket, Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { ApiEventStream } from '../common/decorators/api-event-stream.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { MessageDto, SendMessageDto } from '../messages/dto/message.dto.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { isRunEnd } from '../realtime/realtime.events.js';
import { EventStreams, type StreamKind } from './event-streams.service.js';
import { ChatService } from './chat.service.js';
import { toClientEvent } from './client-events.js';
import { ConversationFeed } from './conversation-feed.js';
import { EventsQuery, SendQuery } from './dto/chat.dto.js';
import { RunDto, type SendResultDto, SendMessageResultDto } from '../agent/dto/run.dto.js';
import { isTerminalRunStatus } from '../agent/run.entity.js';
import { openSse, sendClientEvent, type SseStream } from './sse.js';
import type { EndedRunEventFrame, RunStreamEvents, SseEvents } from './wire-events.js';


/** The events of one run, as both SSE answers send them (payloads as over Socket.IO). */
const RUN_EVENTS = {
  'run:started': '`{run}`',
  'run:delta': '`{runId, conversationId, index, text}`: a piece of the reply; index counts from 0 without gaps',
  'run:tool': '`{runId, conversationId, callId, name, status: "started"|"completed"|"failed", args?, result?}`',
  'run:completed': '`{run, message, version}`: the stored reply',
  'run:failed': '`{run, error: {code, message}, version}`',
  'run:cancelled': '`{run, version}`',
  'approval:requested': '`{approval}`: a tool call waits for the decision of the user who asked or the owner; the run is awaiting_approval until then',
  'approval:resolved': '`{approval}`: approved, denied, expired or withdrawn; once none waits the run resumes (run:started again)',
};

const SESSION_EXPIRED = { 'session:expired': '`{reason}`: the session ended or the access token expired; the stream closes' };

@ApiTags('messages')
@Authenticated()
@Controller('conversations/:id')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly conversations: ConversationsService,
    private readonly bus: RealtimeBus,
    private readonly streams: EventStreams,
  ) {}

  @Post('messages')
  @ApiOperation({
    operationId: 'sendMessage',
    summary: 'Send a message',
    description:
      'Idempotent per clientMessageId: sending again with the same key returns the stored message (and its run) instead of a duplicate. ' +
      'Returns the message and the agent run answering it, if the agent mode calls for one. `?wait=true` waits for the run and adds ' +
      'its reply; `Accept: text/event-stream` answers 200 with the SSE stream of that run instead.',
  })
  @ApiCreatedResponse({ type: SendMessageResultDto, description: 'The stored message and its run (with `?wait=true`, the reply too)' })
  @ApiEventStream({
    description: 'With `Accept: text/event-stream`: the message, then the events of its run until it ends (at once when there is no run).',
    events: { 'message:created': '`{message, version}`: the message sent', ...RUN_EVENTS, ...SESSION_EXPIRED },
  })
  @ApiErrors(400, 403, 404, 429)
  async send(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: SendMessageDto,
    @Query() query: SendQuery,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SendMessageResultDto | SendResultDto | undefined> {
    const sent = await this.chat.send(user, id, body);
    if (accept?.includes('text/event-stream')) {
      await this.streamRun(reply, user, sent.message, sent.run);
      return undefined;
    }
    if (query.wait && sent.run) {
      const { run, reply: answer } = await this.chat.waitForRun(sent.run.id);
      return { message: sent.message, run, reply: answer };
    }
    return query.wait ? { ...sent, reply: null } : sent;
  }

  @Post('messages/:messageId/regenerate')
  @ApiOperation({
    operationId: 'regenerateReply',
    summary: 'Answer a user message again (a new run)',
    description: 'Counts as a message for the rate limit. The new reply follows the previous ones; they are kept.',
  })
  @ApiCreatedResponse({ type: RunDto, description: 'The new run' })
  @ApiErrors(400, 403, 404, 429)
  regenerate(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
  ): Promise<RunDto> {
    return this.chat.regenerate(user, id, messageId);
  }

  @Get('runs/:runId')
  @ApiOperation({ operationId: 'getRun', summary: 'An agent run', description: 'Its status, model, usage and error; the reply is the message responseMessageId.' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(400, 404)
  getRun(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Param('runId', uuidParam('runId')) runId: string): Promise<RunDto> {
    return this.chat.getRun(user, id, runId);
  }

  @Post('runs/:runId/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'cancelRun',
    summary: 'Stop a run now; the text so far is kept',
    description: 'Idempotent: a run that has already ended is returned as it is.',
  })
  @ApiOkResponse({ type: RunDto, description: 'The run, cancelled (or as it ended)' })
  @ApiErrors(400, 403, 404)
  cancel(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Param('runId', uuidParam('runId')) runId: string): Promise<RunDto> {
    return this.chat.cancel(user, id, runId);
  }

  @Get('events')
  @AcceptsStreamTicket()
  @ApiOperation({
    operationId: 'streamConversationEvents',
    summary: 'Server-Sent Events: the live events of the conversation',
    description:
      'The same events as Socket.IO (message:created, run:delta, …). `id:` lines carry the version up to which every change has ' +
      'been delivered: `Last-Event-ID` (or `?afterVersion=`) resumes from it, replaying the current state of every message changed ' +
      'since as `message:updated` / `message:deleted` before going live; a `run:snapshot` event carries the text so far of a reply ' +
      'in progress; heartbeats every 15 s. After a Redis outage (several instances) the stream sends `resync` and ends: reconnect ' +
      'with `Last-Event-ID`. A malformed resume point, or one the conversation has not reached, is a 400 before the stream opens. ' +
      '`?afterSeq=` is deprecated and kept for one release.',
  })
  @ApiHeader({ name: 'last-event-id', required: false, description: 'An `id:` this stream sent (a version); takes precedence over afterVersion' })
  @ApiEventStream({
    description: 'The events of the conversation; `id:` lines carry the version watermark; `: heartbeat` comments every 15 s.',
    events: {
      'message:created': '`{message, version}`',
      'message:updated': '`{message, version}`: an edit, a reply reaching its final state, or (on resume) any change',
      'message:deleted': '`{conversationId, messageId, version}`',
      'conversation:updated': '`{conversation, version?}`: as the reader sees it (version when the change is shared)',
      ...RUN_EVENTS,
      'run:snapshot': '`{run, content, index}`: the reply in progress when the stream opened, its text so far',
      typing: '`{conversationId, userId, isTyping}`',
      presence: '`{conversationId, online: userId[]}`',
      'conversation:closed': '`{conversationId}`: the conversation was deleted or the reader removed; the stream ends',
      resync: '`{conversationIds}`: events may have been lost; the stream ends: reconnect from the last id (Last-Event-ID, or a new ticket and ?afterVersion=)',
      ...SESSION_EXPIRED,
    },
  })
  @ApiErrors(400, 404, 429)
  async events(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Query() query: EventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    const access = await this.conversations.authorize(id, user, 'read');
    const afterVersion = await this.chat.resumePoint(access.view, lastEventId, query);
    const stream = this.openStream(reply, user, 'conversation_events', id);
    // Without a resume point the feed starts live, from the conversation's current version.
    const feed = new ConversationFeed(stream, id, user.id, this.chat.feedSource(access));
    // Events for this stream may have been lost while Redis was away. Ending it (after saying why)
    // recovers them: EventSource reconnects by itself with Last-Event-ID (a stream opened with a
    // spent ticket needs a new ticket and ?afterVersion=, as the README says).
    const resync = this.bus.resumed$.subscribe(() => {
      stream.send('resync', { conversationIds: [id] });
      stream.close();
    });
    stream.onClose(() => resync.unsubscribe());
    await feed.start(this.bus.events$, afterVersion);
  }

  /** An SSE response that lives no longer than the caller's session. */
  private openStream<Events = SseEvents>(reply: FastifyReply, user: AuthUser, kind: StreamKind, conversationId: string): SseStream<Events> {
    return openSse<Events>(reply, this.streams.claim(user, kind, conversationId));
  }

  /** The SSE response of POST …/messages: the user's message, then that run's events to its end. */
  private async streamRun(reply: FastifyReply, user: AuthUser, message: MessageDto, run: RunDto | null): Promise<void> {
    const ended = run && isTerminalRunStatus(run.status) ? await this.chat.endedRunEvent(run) : undefined;
    const stream = this.openStream<RunStreamEvents>(reply, user, 'run_stream', message.conversationId);
    stream.send('message:created', { message, version: message.version });
    if (!run || ended) {
      if (ended) sendEnded(stream, ended);
      stream.close();
      return;
    }
    const subscription = this.bus.events$
      .pipe(
        filter(
          (event) =>
            ('runId' in event && event.runId === run.id) || ('run' in event && event.run.id === run.id) || ('approval' in event && event.approval.runId === run.id),
        ),
        takeWhile((event) => !isRunEnd(event), true),
      )
      .subscribe({
        next: (event) => {
          const client = toClientEvent(event, user.id);
          if (client) sendClientEvent(stream, client);
        },
        complete: () => stream.close(),
      });
    stream.onClose(() => subscription.unsubscribe());
  }
}

/** Socket.IO's and our SSE's `send` take a name and its payload together; a union needs spelling out. */
function sendEnded(stream: SseStream<RunStreamEvents>, ended: EndedRunEventFrame): void {
  if (ended.name === 'run:completed') stream.send(ended.name, ended.payload);
  else if (ended.name === 'run:failed') stream.send(ended.name, ended.payload);
  else stream.send(ended.name, ended.payload);
}
