import { HttpStatus } from '@nestjs/common';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';
import { textNestsDeeperThan } from '../json-depth.js';

/**
 * The application/json parser: Fastify's own (prototype-poisoning protection included), plus
 * - an empty body is no body, so `DELETE` or an action `POST` sent with a JSON content type and
 *   nothing else works; routes that need a body then fail validation with the usual 400;
 * - nesting deeper than `maxDepth` is a 400 VALIDATION.
 */
export function jsonBodyParser(fastify: FastifyInstance, maxDepth: number): FastifyBodyParser<Buffer> {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    if (textNestsDeeperThan(body, maxDepth)) {
      return done(new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, `JSON body is nested deeper than ${maxDepth} levels`), undefined);
    }
    return parse(request, body.toString('utf8'), done);
  };
}
