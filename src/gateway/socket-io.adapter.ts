import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';

/**
 * Server-wide Socket.IO settings from the configuration: frame size limit, heartbeats tuned for
 * proxies, and browser origins checked against CORS_ORIGINS (non-browser clients send none).
 */
export class ChatIoAdapter extends IoAdapter {
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
}
