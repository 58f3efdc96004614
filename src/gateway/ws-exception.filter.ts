import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import { ackError } from './ws-ack.js';

/**
 * Answers every failed event through its acknowledgement (`{ok:false, error}`), never leaving it
 * unanswered and never disconnecting the socket. Unexpected errors are logged, not shown.
 */
@Catch()
export class WsAckExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ChatGateway');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ack = host.getArgByIndex<unknown>(2);
    const response = ackError(exception);
    if (!response.ok && response.error.code === 'INTERNAL') {
      this.logger.error(`Event ${String(host.getArgByIndex(3))} failed`, exception instanceof Error ? exception.stack : String(exception));
    }
    if (typeof ack === 'function') ack(response);
  }
}
