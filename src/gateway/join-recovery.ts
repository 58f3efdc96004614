import { HttpStatus, Injectable } from '@nestjs/common';
import { ChatService } from '../chat/chat.service.js';
import type { JoinDto } from '../chat/dto/ws.dto.js';
import type { JoinResult } from '../chat/wire-events.js';
import { AppError, ErrorCode } from '../common/errors.js';
import { ConversationDto } from '../conversations/dto/conversation.dto.js';
import type { ConversationAccess } from '../conversations/conversations.service.js';
import { MessagesService, type RecoveryPage } from '../messages/messages.service.js';
import type { ChatSocket } from './chat-socket.js';
import { EventBudget } from './event-budget.js';
import { outgoingBacklog } from './socket-backlog.js';

/** A recovery page costs one event per this many bytes on top of the join: a full 2 MB page costs 16. */
const RECOVERY_BYTES_PER_EVENT = 128 * 1024;
/** Recovery pages are refused while more than this waits to be written to the socket. */
const RECOVERY_MAX_BACKLOG_BYTES = 1024 * 1024;
const NO_PAGE: RecoveryPage = { items: [], hasMore: false, bytes: 0 };

/**
 * What `conversation:join` answers a socket: the changes after `afterVersion` (or, deprecated,
 * the messages after `afterSeq`), the conversation's version and the reply streaming now, read as
 * one consistent answer — with the pages paid for by the socket.
 */
@Injectable()
export class JoinRecovery {
  constructor(
    private readonly chat: ChatService,
    private readonly messages: MessagesService,
  ) {}

  async answer(socket: ChatSocket, access: ConversationAccess, dto: JoinDto): Promise<JoinResult> {
    const legacy = dto.afterVersion === undefined && dto.afterSeq !== undefined;
    // Pages read count as unsent until the acknowledgement is written, whatever happens after the read.
    let pageBytes = 0;
    try {
      const { page, activeRun } = await this.chat.withActiveRun(access.view.id, async () => {
        const changes = await (dto.afterVersion === undefined
          ? this.messages.changes(access, undefined)
          : this.metered(socket, () => this.messages.changes(access, dto.afterVersion)));
        pageBytes += changes.bytes;
        const missed = legacy ? await this.metered(socket, () => this.messages.recoveryPage(access, dto.afterSeq!)) : NO_PAGE;
        pageBytes += missed.bytes;
        return { changes, missed, items: [...changes.items, ...missed.items] };
      });
      const { changes, missed } = page;
      return {
        conversation: ConversationDto.from(changes.conversation, socket.data.user.id),
        changes: changes.items,
        hasMore: legacy ? missed.hasMore : changes.hasMore,
        version: changes.version,
        activeRun,
        ...(legacy && { missed: missed.items }),
      };
    } finally {
      // The dispatcher writes the acknowledgement once the handler returns: by the next turn of the event loop.
      const bytes = pageBytes;
      if (bytes) setImmediate(() => (socket.data.unsentPageBytes -= bytes));
    }
  }

  /**
   * Reads one bounded recovery page; the client re-joins from the last one it got while hasMore.
   * Pages are read one at a time per socket and paid for from its event budget by size, so
   * re-join floods cannot pile them up in memory — and none is read while earlier ones still wait
   * to be written to a client that does not read them (or to the transport).
   */
  private metered<T extends RecoveryPage>(socket: ChatSocket, read: () => Promise<T>): Promise<T> {
    return EventBudget.of(socket).metered(async () => {
      if (outgoingBacklog(socket.conn) + socket.data.unsentPageBytes > RECOVERY_MAX_BACKLOG_BYTES) {
        throw new AppError(HttpStatus.TOO_MANY_REQUESTS, ErrorCode.RATE_LIMITED, 'What was sent before has not been read yet', {
          retryAfterSeconds: 1,
          reason: 'CLIENT_BACKLOG',
        });
      }
      const page = await read();
      socket.data.unsentPageBytes += page.bytes;
      return { value: page, cost: page.bytes / RECOVERY_BYTES_PER_EVENT };
    });
  }
}
