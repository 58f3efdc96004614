import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PinoNestLogger, REDACTED_PATHS, redactUrl } from './logger.js';

describe('redactUrl', () => {
  it('hides the value of a ticket (and other credentials) in the query, keeping the rest', () => {
    expect(redactUrl('/api/v1/chat/1/stream?ticket=mP1bV7yqkzY3iXn0sWcQ2gJ8rT5uLh4eA6dFo9KjZxE')).toBe('/api/v1/chat/1/stream?ticket=[redacted]');
    expect(redactUrl('/x?afterVersion=3&TICKET=abc&access_token=t#frag')).toBe('/x?afterVersion=3&TICKET=[redacted]&access_token=[redacted]#frag');
    expect(redactUrl('/x?subticket=kept&ticketed=kept')).toBe('/x?subticket=kept&ticketed=kept');
  });
});

describe('the root logger', () => {
  it('redacts a ticket in a logged object', () => {
    let written = '';
    const sink = new Writable({ write: (chunk, _encoding, done) => ((written += String(chunk)), done()) });
    pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink).info({ body: { ticket: 'secret-value', expiresIn: 60 } });
    expect(written).not.toContain('secret-value');
    expect(JSON.parse(written).body).toEqual({ ticket: '[redacted]', expiresIn: 60 });
  });
});

describe('PinoNestLogger', () => {
  it("writes Nest's listing of modules, routes and socket events at debug, its other lines at info", () => {
    const lines: { level: number; context?: string; msg: string }[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    const logger = new PinoNestLogger(pino({ level: 'debug' }, sink));
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('ChatController {/api/v1/conversations/:id}:', 'RoutesResolver');
    logger.log('Mapped {/api/v1/conversations/:id/messages, POST} route', 'RouterExplorer');
    logger.log('ChatGateway subscribed to the "message:send" message', 'WebSocketsController');
    logger.log('Nest application successfully started', 'NestApplication');
    expect(lines.map((line) => [line.context, line.level])).toEqual([
      ['InstanceLoader', 20],
      ['RoutesResolver', 20],
      ['RouterExplorer', 20],
      ['WebSocketsController', 20],
      ['NestApplication', 30],
    ]);
  });
});
