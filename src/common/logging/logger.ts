import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import type { AppSettings } from '../../config/app.config.js';

/** Paths that may hold credentials; pino replaces them before a line is written. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.accessToken',
  '*.refreshToken',
  '*.token',
  '*.ticket',
  '*.apiKey',
  '*.secret',
];

/** Query parameters that carry a credential (a stream ticket is one): their values never reach a log line. */
const CREDENTIAL_QUERY_VALUES = /([?&](?:ticket|token|access_token)=)[^&#]*/gi;

/** A request URL fit for a log line. */
export function redactUrl(url: string): string {
  return url.replace(CREDENTIAL_QUERY_VALUES, '$1[redacted]');
}

export function createRootLogger(settings: Pick<AppSettings, 'logLevel'>): Pino {
  return pino({
    level: settings.logLevel,
    base: { service: 'agent-chat' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Nest's start-up listing of every module, route and socket event it wired: for debugging, noise otherwise. */
const WIRING_CONTEXTS: ReadonlySet<unknown> = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController']);

/** Routes Nest's own logging (bootstrap, lifecycle, `new Logger(ctx)`) to the same JSON stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly root: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write(WIRING_CONTEXTS.has(params.at(-1)) ? 'debug' : 'info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    // Nest passes (message, stack?, context?).
    const context = params.length > 1 ? params.at(-1) : params.length === 1 && !looksLikeStack(params[0]) ? params[0] : undefined;
    const stack = params.find(looksLikeStack);
    this.root.error({ context, ...(stack ? { stack } : {}) }, stringify(message));
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, params: unknown[]): void {
    const context = typeof params.at(-1) === 'string' ? params.at(-1) : undefined;
    if (typeof message === 'object' && message !== null) this.root[level]({ context, ...message });
    else this.root[level]({ context }, stringify(message));
  }
}

function looksLikeStack(value: unknown): value is string {
  return typeof value === 'string' && /\n[ \t]+at /.test(value);
}

function stringify(value: unknown): string {
  return typeof value === 'string' ? value : value instanceof Error ? value.message : JSON.stringify(value);
}
