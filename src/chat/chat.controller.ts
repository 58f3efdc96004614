import { Body, Controller, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { filter, takeWhile } from 'rxjs';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AcceptsStreamTicket, Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { MessageDto, SendMessageDto } from '../messages/dto/message.dto.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { isRunEnd } from '../realtime/realtime.events.js';
import { SessionWatch } from '../realtime/session-watch.js';
import { ChatService } from './chat.service.js';
import { toClientEvent } from './client-events.js';
import { ConversationFeed } from './conversation-feed.js';
import { EventsQuery, SendQuery } from './dto/chat.dto.js';
import { RunDto, WaitResultDto } from '../agent/dto/run.dto.js';
import { isTerminalRunStatus } from '../agent/run.entity.js';
import { openSse, sendClientEvent, type SseStream } from './sse.js';
import type { EndedRunEventFrame, RunStreamEvents, SseEvents } from './wire-events.js';


@ApiTags('messages')
@Authenticated()
@Controller('conversations/:id')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly conversations: ConversationsService,
    private readonly bus: RealtimeBus,
    private readonly sessionWatch: SessionWatch,
  ) {}

  @Post('messages')
  @ApiOperation({
    summary: 'Send a message',
    description:
      'Idempotent per clientMessageId. Returns the message and the agent run answering it (if the agent mode calls for one). ' +
      '`?wait=true` waits for the run and adds its reply; `Accept: text/event-stream` streams the run as SSE instead.',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiCreatedResponse({ type: WaitResultDto })
  @ApiErrors(400, 403, 404, 413, 429)
  async send(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: SendMessageDto,
    @Query() query: SendQuery,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WaitResultDto | { message: MessageDto; run: RunDto | null } | undefined> {
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
  @ApiOperation({ summary: 'Answer a user message again (a new run)' })
  @ApiCreatedResponse({ type: RunDto })
  @ApiErrors(400, 403, 404, 429)
  regenerate(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
  ): Promise<RunDto> {
    return this.chat.regenerate(user, id, messageId);
  }

  @Get('runs/:runId')
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(400, 404)
  getRun(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Param('runId', uuidParam('runId')) runId: string): Promise<RunDto> {
    return this.chat.getRun(user, id, runId);
  }

  @Post('runs/:runId/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Stop a run now; the text so far is kept (idempotent)' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(400, 403, 404)
  cancel(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Param('runId', uuidParam('runId')) runId: string): Promise<RunDto> {
    return this.chat.cancel(user, id, runId);
  }

  @Get('events')
  @AcceptsStreamTicket()
  @ApiOperation({
    summary: 'Server-Sent Events: the live events of the conversation',
    description:
      'The same events as Socket.IO (message:created, run:delta, …). `id:` lines carry the version up to which every change has ' +
      'been delivered: `Last-Event-ID` (or `?afterVersion=`) resumes from it, replaying the current state of every message changed ' +
      'since as `message:updated` / `message:deleted` before going live; a `run:snapshot` event carries the text so far of a reply ' +
      'in progress; heartbeats every 15 s. After a Redis outage (several instances) the stream sends `resync` and ends: reconnect ' +
      'with `Last-Event-ID`. A malformed resume point, or one the conversation has not reached, is a 400 before the stream opens. ' +
      '`?afterSeq=` is deprecated and kept for one release.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'last-event-id', required: false, description: 'An `id:` this stream sent (a version); takes precedence over afterVersion' })
  @ApiOkResponse({ description: 'text/event-stream' })
  @ApiErrors(400, 404)
  async events(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Query() query: EventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    const access = await this.conversations.authorize(id, user, 'read');
    const afterVersion = await this.chat.resumePoint(access.view, lastEventId, query);
    const stream = this.openStream(reply, user);
    // Without a resume point the feed starts live, from the conversation's current version.
    const feed = new ConversationFeed(stream, id, user.id, this.chat.feedSource(access));
    // Events for this stream may have been lost while Redis was away. Ending it (after saying why)
    // recovers them with no client code: EventSource reconnects by itself with Last-Event-ID.
    const resync = this.bus.resumed$.subscribe(() => {
      stream.send('resync', { conversationIds: [id] });
      stream.close();
    });
    stream.onClose(() => resync.unsubscribe());
    await feed.start(this.bus.events$, afterVersion);
  }

  /** An SSE response that lives no longer than the caller's session. */
  private openStream<Events = SseEvents>(reply: FastifyReply, user: AuthUser): SseStream<Events> {
    return openSse<Events>(reply, { user, events$: this.bus.events$, watch: this.sessionWatch });
  }

  /** The SSE response of POST …/messages: the user's message, then that run's events to its end. */
  private async streamRun(reply: FastifyReply, user: AuthUser, message: MessageDto, run: RunDto | null): Promise<void> {
    const ended = run && isTerminalRunStatus(run.status) ? await this.chat.endedRunEvent(run) : undefined;
    const stream = this.openStream<RunStreamEvents>(reply, user);
    stream.send('message:created', { message, version: message.version });
    if (!run || ended) {
      if (ended) sendEnded(stream, ended);
      stream.close();
      return;
    }
    const subscription = this.bus.events$
      .pipe(
        filter((event) => ('runId' in event && event.runId === run.id) || ('run' in event && event.run.id === run.id)),
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
