import { type BeforeApplicationShutdown, HttpStatus, type OnModuleDestroy, UseFilters, UseInterceptors, UsePipes } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Subscription } from 'rxjs';
import { ChatService } from '../chat/chat.service.js';
import { toClientEvent } from '../chat/client-events.js';
import { CancelRunDto, ConversationRefDto, JoinDto, ReadDto, WsSendDto } from '../chat/dto/ws.dto.js';
import type { AckOf } from '../chat/wire-events.js';
import { ApprovalsService } from '../approvals/approvals.service.js';
import { WsDecideApprovalDto } from '../approvals/dto/approval.dto.js';
import { AccessTokenService } from '../auth/access-token.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError } from '../common/errors.js';
import { createValidationPipe } from '../common/pipes/validation.pipe.js';
import { AppConfig } from '../config/app-config.js';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { type Access, ConversationsService } from '../conversations/conversations.service.js';
import { PresenceService } from '../realtime/presence.service.js';
import { RateLimiter } from '../realtime/rate-limiter.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { SessionWatch } from '../realtime/session-watch.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { type ChatNamespace, type ChatSocket, conversationRoom, emitEvent, userRoom } from './chat-socket.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { JoinRecovery } from './join-recovery.js';
import { PresenceAnnouncer } from './presence-announcer.js';
import { BacklogGuard } from './socket-backlog.js';
import { TypingRelay } from './typing-relay.js';
import { ackOk } from './ws-ack.js';
import { WsAckExceptionFilter } from './ws-exception.filter.js';
import { WsMetricsInterceptor } from './ws-metrics.interceptor.js';

const CONNECT_RATE_WINDOW_MS = 60_000;

/**
 * The Socket.IO gateway (namespace /chat). Thin: it authenticates the handshake, validates
 * payloads, authorizes through the services, and turns realtime-bus events into emits to the
 * sockets of this instance (the bus already reaches every instance).
 */
@WebSocketGateway({ namespace: '/chat' })
@UsePipes(createValidationPipe())
@UseFilters(WsAckExceptionFilter)
@UseInterceptors(WsMetricsInterceptor)
export class ChatGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy, BeforeApplicationShutdown {
  @WebSocketServer() private server!: ChatNamespace;
  private subscription: Subscription | undefined;
  private readonly typing = new TypingRelay((conversationId, userId, isTyping) => this.bus.publish({ type: 'typing', conversationId, userId, isTyping }));
  private readonly presenceAnnouncer = new PresenceAnnouncer(
    (conversationId) => this.presence.online(conversationId),
    (conversationId, online) => this.bus.publish({ type: 'presence', conversationId, online }),
  );
  private backlogGuard: BacklogGuard | undefined;

  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly chat: ChatService,
    private readonly conversations: ConversationsService,
    private readonly joinRecovery: JoinRecovery,
    private readonly presence: PresenceService,
    private readonly bus: RealtimeBus,
    private readonly metrics: GatewayMetrics,
    private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly sessionWatch: SessionWatch,
    private readonly approvals: ApprovalsService,
  ) {}

  afterInit(namespace: ChatNamespace): void {
    namespace.use(async (socket, next) => next(await this.admit(socket)));
    this.subscription = this.bus.events$.subscribe((event) => this.deliver(event));
    this.subscription.add(this.bus.resumed$.subscribe(() => this.resync()));
    this.backlogGuard = new BacklogGuard(namespace.server, this.config.limits.wsMaxBacklogBytes);
    this.backlogGuard.start();
  }

  /**
   * The handshake is authenticated once, before any event: connect_error "unauthorized" otherwise.
   * The user's sockets on this instance are counted and the new one joins the user's room in one
   * step, so concurrent handshakes cannot all pass the count; one that fails later leaves the
   * room again (Socket.IO cleans up sockets that never connect).
   */
  private async admit(socket: ChatSocket): Promise<Error | undefined> {
    const token: unknown = socket.handshake.auth?.token;
    // Not kept on the socket once read: a copy per connection, for nothing.
    if (socket.handshake.auth) socket.handshake.auth = {};
    if (typeof token !== 'string' || !token || token.length > 4096) return new Error('unauthorized');
    let user: AuthUser;
    try {
      user = await this.accessTokens.authenticate(token);
      const flood = await this.refuseReconnectFlood(user.id);
      if (flood) return flood;
    } catch (error) {
      return new Error(isDatabaseUnavailable(error) ? 'unavailable' : 'unauthorized');
    }
    const limit = this.config.limits.wsMaxSocketsPerUser;
    if ((socket.nsp.adapter.rooms.get(userRoom(user.id))?.size ?? 0) >= limit) {
      return Object.assign(new Error('too_many_connections'), { data: { limit } });
    }
    socket.data = { user, conversations: new Set(), typing: undefined, unsentPageBytes: 0 };
    void socket.join(userRoom(user.id));
    return undefined;
  }

  /**
   * Every socket brings a fresh event budget, so a client that reconnects in a loop would get
   * around it: connections are counted per user (on every instance, with Redis).
   */
  private async refuseReconnectFlood(userId: string): Promise<Error | undefined> {
    const decision = await this.rateLimiter.consume(`connect:${userId}`, this.config.limits.wsConnectRateLimit, CONNECT_RATE_WINDOW_MS);
    if (decision.allowed) return undefined;
    return Object.assign(new Error('rate_limited'), { data: { retryAfterSeconds: decision.retryAfterSeconds } });
  }

  // Only sockets that passed the handshake middleware get here, so socket.data.user is set.
  handleConnection(socket: ChatSocket): void {
    const { user } = socket.data;
    this.presence.connect();
    this.metrics.connected.inc();
    socket.data.unwatch = this.sessionWatch.watch(user.sessionId);
    // When the access token expires the session ends on this socket too; the client reconnects with
    // a fresh token. In whole seconds (a token's expiry is one), up to a second late: Node keeps one
    // list per distinct delay, and delays counted in milliseconds would make one per connection.
    socket.data.expiry = setTimeout(() => {
      socket.emit('session:expired', { reason: 'expired' });
      socket.disconnect(true);
    }, Math.max(0, Math.ceil((user.expiresAt - Date.now()) / 1000) * 1000));
  }

  handleDisconnect(socket: ChatSocket): void {
    const { conversations, expiry, unwatch } = socket.data;
    clearTimeout(expiry);
    unwatch?.();
    this.presence.disconnect();
    this.metrics.connected.dec();
    for (const conversationId of conversations) this.leaveConversation(socket, conversationId);
  }

  @SubscribeMessage('conversation:join')
  async join(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: JoinDto): Promise<AckOf<'conversation:join'>> {
    const { user } = socket.data;
    const access = await this.conversations.authorize(dto.conversationId, user, 'read');
    const { view } = access;
    // Gone while the access check ran: joining now would leave a ghost in the room and in presence.
    if (socket.disconnected) throw new AppError(HttpStatus.CONFLICT, 'DISCONNECTED', 'The socket disconnected during the join');
    // Join first, read after: whatever happens in between arrives live (at worst twice, never lost).
    await socket.join(conversationRoom(view.id));
    if (!socket.data.conversations.has(view.id)) {
      socket.data.conversations.add(view.id);
      if (this.presence.join(view.id, user.id, socket.id)) this.presenceAnnouncer.changed(view.id);
    }
    return ackOk(await this.joinRecovery.answer(socket, access, dto));
  }

  @SubscribeMessage('conversation:leave')
  async leave(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: ConversationRefDto): Promise<AckOf<'conversation:leave'>> {
    this.leaveConversation(socket, dto.conversationId);
    await socket.leave(conversationRoom(dto.conversationId));
    return ackOk({ conversationId: dto.conversationId });
  }

  @SubscribeMessage('message:send')
  async send(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: WsSendDto): Promise<AckOf<'message:send'>> {
    const { conversationId, ...message } = dto;
    return ackOk(await this.chat.send(socket.data.user, conversationId, message));
  }

  /** Typing needs what sending needs: a viewer has nothing to be typing. */
  @SubscribeMessage('typing:start')
  typingStart(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: ConversationRefDto): Promise<AckOf<'typing:start'>> {
    return this.inTypingOrder(socket, dto.conversationId, 'send', () => this.typing.start(dto.conversationId, socket.data.user.id));
  }

  @SubscribeMessage('typing:stop')
  typingStop(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: ConversationRefDto): Promise<AckOf<'typing:stop'>> {
    return this.inTypingOrder(socket, dto.conversationId, 'read', () => this.typing.stop(dto.conversationId, socket.data.user.id));
  }

  @SubscribeMessage('conversation:read')
  async read(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: ReadDto): Promise<AckOf<'conversation:read'>> {
    await this.conversations.markRead(socket.data.user, dto.conversationId, dto.seq);
    return ackOk({ conversationId: dto.conversationId, seq: dto.seq });
  }

  @SubscribeMessage('run:cancel')
  async cancel(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: CancelRunDto): Promise<AckOf<'run:cancel'>> {
    return ackOk(await this.chat.cancelById(socket.data.user, dto.runId));
  }

  @SubscribeMessage('approval:decide')
  async decide(@ConnectedSocket() socket: ChatSocket, @MessageBody() dto: WsDecideApprovalDto): Promise<AckOf<'approval:decide'>> {
    const { approvalId, ...decision } = dto;
    return ackOk(await this.approvals.decide(socket.data.user, approvalId, decision, { ip: socket.handshake.address || null, requestId: null }));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.typing.clear();
    this.backlogGuard?.stop();
    this.presenceAnnouncer.clear();
  }

  /**
   * Tells clients and closes their connections at the transport level, which Socket.IO clients
   * treat as a dropped connection and reconnect — to another instance behind the load balancer.
   */
  beforeApplicationShutdown(): void {
    if (!this.server) return;
    for (const socket of this.server.sockets.values()) {
      socket.emit('server:shutdown', { reconnect: true });
      socket.conn.close();
    }
  }

  /**
   * Applies a socket's typing changes in a conversation in the order it sent them. Each waits for
   * the one before: its access check may be answered by the cache or by the database, and a stop
   * that overtook its start would leave the typist shown as typing.
   */
  private inTypingOrder(socket: ChatSocket, conversationId: string, access: Access, apply: () => void): Promise<AckOf<'typing:start' | 'typing:stop'>> {
    const chains = (socket.data.typing ??= new Map());
    const turn = (chains.get(conversationId) ?? Promise.resolve()).then(async () => {
      this.requireJoined(socket, conversationId);
      await this.conversations.authorize(conversationId, socket.data.user, access);
      // Left while the check ran: typing now would outlive the leave.
      this.requireJoined(socket, conversationId);
      apply();
      return ackOk({ conversationId });
    });
    const settled = turn.catch(() => undefined);
    chains.set(conversationId, settled);
    void settled.finally(() => {
      if (chains.get(conversationId) !== settled) return;
      chains.delete(conversationId);
      // Most sockets never type: none keeps an empty map.
      if (!chains.size && socket.data.typing === chains) socket.data.typing = undefined;
    });
    return turn;
  }

  private requireJoined(socket: ChatSocket, conversationId: string): void {
    if (!socket.data.conversations.has(conversationId)) {
      throw new AppError(HttpStatus.NOT_FOUND, 'NOT_JOINED', 'Join the conversation first');
    }
  }

  private leaveConversation(socket: ChatSocket, conversationId: string): void {
    if (!socket.data.conversations.delete(conversationId)) return;
    const { user } = socket.data;
    if (this.presence.leave(conversationId, user.id, socket.id)) {
      this.typing.stop(conversationId, user.id);
      this.presenceAnnouncer.changed(conversationId);
    }
  }

  /** Bus event → emits to the sockets of this instance. */
  private deliver(event: RealtimeEvent): void {
    if (event.type === 'session.revoked') {
      this.endSessions(event);
      return;
    }
    if (!this.server) return;
    if (event.type === 'document.updated' && event.conversationId === undefined) {
      // A private document: its owner's connections alone.
      this.emitTo(this.server.local.to(userRoom(event.document.ownerId)), event);
      return;
    }
    if (event.conversationId === undefined) return;
    const local = this.server.local;
    const room = conversationRoom(event.conversationId);
    switch (event.type) {
      case 'conversation.updated':
        // Each participant sees their own unread count, pin and archive (only those connected here).
        for (const participant of event.conversation.participants) {
          const personal = userRoom(participant.userId);
          if (!this.server.adapter.rooms.has(personal)) continue;
          emitEvent(local.to(personal), toClientEvent(event, participant.userId)!);
          this.metrics.eventsOut.inc({ event: 'conversation:updated' });
        }
        return;
      case 'participant.removed':
        this.evict(event.conversationId, event.userId);
        return;
      case 'conversation.deleted':
        this.evict(event.conversationId);
        return;
      case 'approval.requested':
      case 'approval.resolved':
        // The joined sockets and those of the users who may decide (a phone on another screen), each once.
        this.emitTo(local.to([room, ...(event.notify ?? []).map(userRoom)]), event);
        return;
      default:
        // Typing is not echoed to the typist's own sockets.
        this.emitTo(event.type === 'typing' ? local.to(room).except(userRoom(event.userId)) : local.to(room), event);
    }
  }

  private emitTo(target: Parameters<typeof emitEvent>[0], event: RealtimeEvent): void {
    const client = toClientEvent(event, '');
    if (!client) return;
    emitEvent(target, client);
    this.metrics.eventsOut.inc({ event: client.name });
  }

  /**
   * Events for this instance's sockets may have been lost while Redis was away: each socket is
   * told to re-join the conversations it has joined (recovering from its last seq or version),
   * and presence, whose changes were lost too, is announced again.
   */
  private resync(): void {
    if (!this.server) return;
    const conversations = new Set<string>();
    for (const socket of this.server.sockets.values()) {
      const conversationIds = [...(socket.data.conversations ?? [])];
      if (!conversationIds.length) continue;
      socket.emit('resync', { conversationIds });
      this.metrics.eventsOut.inc({ event: 'resync' });
      for (const id of conversationIds) conversations.add(id);
    }
    for (const id of conversations) this.presenceAnnouncer.changed(id);
  }

  /** Sockets of ended sessions are told why and disconnected; the user's other sessions stay. */
  private endSessions({ userId, sessionIds, reason }: Extract<RealtimeEvent, { type: 'session.revoked' }>): void {
    if (!this.server) return;
    for (const id of this.server.adapter.rooms.get(userRoom(userId)) ?? []) {
      const socket = this.server.sockets.get(id);
      if (!socket || !sessionIds.includes(socket.data.user.sessionId)) continue;
      socket.emit('session:expired', { reason });
      socket.disconnect(true);
    }
  }

  /**
   * The sockets of a removed participant (or, without userId, of everyone in a deleted
   * conversation) leave its room at once: no more events, no typing, gone from presence.
   */
  private evict(conversationId: string, userId?: string): void {
    const room = conversationRoom(conversationId);
    const users = new Set<string>(userId ? [userId] : []);
    // Leaving deletes from the set being walked, which a Set's iteration allows.
    for (const id of this.server.adapter.rooms.get(userId ? userRoom(userId) : room) ?? []) {
      const socket = this.server.sockets.get(id);
      if (!socket?.data.user || !socket.data.conversations?.delete(conversationId)) continue;
      users.add(socket.data.user.id);
      void socket.leave(room);
    }
    let changed = false;
    for (const user of users) changed = this.presence.evict(conversationId, user) || changed;
    if (changed && userId) this.presenceAnnouncer.changed(conversationId);
  }
}
