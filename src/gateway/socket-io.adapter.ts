import { HttpStatus, type INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { defer, filter, type Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { AppError, ErrorCode, RateLimitedError } from '../common/errors.js';
import { valueNestsDeeperThan } from '../common/json-depth.js';
import type { AppConfig } from '../config/app-config.js';
import { EventBudget } from './event-budget.js';
import { ConnectLimitingDecoder } from './connect-limit.js';
import { CountingEncoder } from './socket-backlog.js';
import { ackError } from './ws-ack.js';

/**
 * Lets go of what the handshake's HTTP request holds once its connection is up: Socket.IO would keep
 * the request for the socket's life (the gateway reads only the auth payload and the address, taken
 * before this), and engine.io's upgrade bookkeeping keeps the object itself reachable, so its
 * headers are dropped too: about a kilobyte per idle socket.
 */
function releaseRequest(connection: { request: IncomingMessage | null }): void {
  const request = connection.request;
  connection.request = null;
  if (!request) return;
  request.headers = {};
  request.rawHeaders = [];
}

/**
 * Server-wide Socket.IO settings from the configuration: frame size limit, heartbeats tuned for
 * proxies, and browser origins checked against CORS_ORIGINS (non-browser clients send none).
 * Tuned for many idle connections: no compression (a deflate context per socket costs far more
 * memory than chat frames save), and the handshake's HTTP request is let go once the connection
 * is up (nothing reads it later; Socket.IO would keep it, with its headers, for the socket's life).
 */
export class ChatIoAdapter extends IoAdapter {
  private readonly log = new Logger('ChatIoAdapter');

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const { corsOrigins } = this.config.app;
    const { wsMaxBufferBytes, wsPingIntervalMs, wsPingTimeoutMs } = this.config.limits;
    const server: Server = super.createIOServer(port, {
      ...options,
      serveClient: false,
      maxHttpBufferSize: wsMaxBufferBytes,
      pingInterval: wsPingIntervalMs,
      pingTimeout: wsPingTimeoutMs,
      perMessageDeflate: false,
      // Counts the bytes encoded for clients, for the gateway's BacklogGuard, and bounds the
      // requests to connect one connection may make.
      parser: { Encoder: CountingEncoder, Decoder: ConnectLimitingDecoder },
      httpCompression: false,
      cors: { origin: corsOrigins, credentials: true },
      allowRequest: (request: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void) => {
        const origin = request.headers.origin;
        callback(null, origin === undefined || corsOrigins.includes(origin));
      },
    } as ServerOptions);
    // Only /chat is served, and only to authenticated sockets: the default namespace, which
    // Socket.IO always creates, would otherwise hold anonymous connections open.
    server.use((_socket, next) => next(new Error('Invalid namespace')));
    // Registered after Socket.IO's own listener, which has taken what it needs from the request.
    server.engine.on('connection', releaseRequest);
    return server;
  }

  /**
   * One dispatcher per socket instead of Nest's default of one rxjs pipeline per event per
   * socket: the same handlers and acknowledgements, at a fraction of the memory per connection.
   * Before any handler runs, every event — unknown ones included — is charged to the socket's
   * EventBudget and its payload's nesting is checked; a refusal is still acknowledged, and a
   * socket that keeps flooding far past its limit is disconnected.
   */
  override bindMessageHandlers(socket: Socket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    const byEvent = new Map(handlers.map((handler) => [handler.message as string, handler]));
    const { jsonMaxDepth, wsEventRatePerSecond, wsEventBurst, wsFloodDisconnectAfter } = this.config.limits;
    const budget = EventBudget.attach(socket, { ratePerSecond: wsEventRatePerSecond, burst: wsEventBurst, floodLimit: wsFloodDisconnectAfter });
    // The parser also lets a client name an event with a number: never assume a string here.
    socket.onAny((event: unknown, ...payload: unknown[]) => {
      const name = String(event);
      const { data, ack } = this.mapPayload(payload);
      const refuse = (error: AppError) => {
        if (typeof ack === 'function') ack(ackError(error));
      };
      const admission = budget.admit();
      if (!admission.admitted) {
        refuse(new RateLimitedError('Too many events, slow down', admission.retryAfterSeconds));
        if (admission.flooding && socket.connected) {
          this.log.warn(`Disconnecting socket ${socket.id}: it kept flooding past its event limit`);
          socket.disconnect(true);
        }
        return;
      }
      const handler = byEvent.get(name);
      if (!handler) return refuse(new AppError(HttpStatus.NOT_FOUND, 'UNKNOWN_EVENT', `Unknown event "${name.slice(0, 64)}"`));
      // Validation walks payloads recursively: refuse deep ones before they can overflow the stack.
      if (valueNestsDeeperThan(data, jsonMaxDepth)) {
        return refuse(new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, `Payload nested deeper than ${jsonMaxDepth} levels`, { maxDepth: jsonMaxDepth }));
      }
      defer(() => transform(handler.callback(data, ack)))
        .pipe(filter((response) => response !== undefined && response !== null))
        .subscribe({
          next: (response) => {
            const reply = response as { event?: string; data?: unknown };
            if (reply.event) socket.emit(reply.event, reply.data);
            else if (!handler.isAckHandledManually && typeof ack === 'function') ack(response);
          },
          error: (error: unknown) => this.log.error(error),
        });
    });
  }
}
