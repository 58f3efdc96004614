import { HttpStatus } from '@nestjs/common';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';

/** Deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, found by one pass over the
 * bytes (UTF-8 never puts these ASCII bytes inside a multi-byte character). Checked before
 * parsing, because every later step (poisoning scan, class-transformer, validation) recurses
 * once per level. Malformed text is left to the parser to reject.
 */
export function nestsDeeperThan(body: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/**
 * The application/json parser: Fastify's own (prototype-poisoning protection included), plus
 * - an empty body is no body, so `DELETE` or an action `POST` sent with a JSON content type and
 *   nothing else works; routes that need a body then fail validation with the usual 400;
 * - nesting deeper than MAX_JSON_DEPTH is a 400 VALIDATION.
 */
export function jsonBodyParser(fastify: FastifyInstance): FastifyBodyParser<Buffer> {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
      return done(new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, `JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    }
    return parse(request, body.toString('utf8'), done);
  };
}
