import { HttpStatus, type INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { defer, filter, type Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { AppError } from '../common/errors.js';
import type { AppConfig } from '../config/app-config.js';
import { ackError } from './ws-ack.js';

/**
 * Server-wide Socket.IO settings from the configuration: frame size limit, heartbeats tuned for
 * proxies, and browser origins checked against CORS_ORIGINS (non-browser clients send none).
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
    return super.createIOServer(port, {
      ...options,
      serveClient: false,
      maxHttpBufferSize: wsMaxBufferBytes,
      pingInterval: wsPingIntervalMs,
      pingTimeout: wsPingTimeoutMs,
      cors: { origin: corsOrigins, credentials: true },
      allowRequest: (request: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void) => {
        const origin = request.headers.origin;
        callback(null, origin === undefined || corsOrigins.includes(origin));
      },
    } as ServerOptions);
  }

  /**
   * One dispatcher per socket instead of Nest's default of one rxjs pipeline per event per
   * socket: the same handlers and acknowledgements, at a fraction of the memory per connection.
   * An event no handler knows is still acknowledged (NOT_FOUND), never left hanging.
   */
  override bindMessageHandlers(socket: Socket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    const byEvent = new Map(handlers.map((handler) => [handler.message as string, handler]));
    // The parser also lets a client name an event with a number: never assume a string here.
    socket.onAny((event: unknown, ...payload: unknown[]) => {
      const name = String(event);
      const handler = byEvent.get(name);
      const { data, ack } = this.mapPayload(payload);
      if (!handler) {
        if (typeof ack === 'function') ack(ackError(new AppError(HttpStatus.NOT_FOUND, 'UNKNOWN_EVENT', `Unknown event "${name.slice(0, 64)}"`)));
        return;
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
