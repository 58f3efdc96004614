import { BadRequestException, HttpStatus, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { describeError } from './all-exceptions.filter.js';

describe('describeError', () => {
  it('keeps the code, message and details of an AppError', () => {
    const error = new AppError(HttpStatus.CONFLICT, 'EMAIL_TAKEN', 'Email is already registered', { email: ['taken'] });
    expect(describeError(error)).toEqual({
      statusCode: 409,
      code: 'EMAIL_TAKEN',
      message: 'Email is already registered',
      details: { email: ['taken'] },
    });
  });

  it('maps Nest HTTP exceptions to a generic code for their status', () => {
    expect(describeError(new NotFoundException('Conversation not found'))).toEqual({
      statusCode: 404,
      code: 'NOT_FOUND',
      message: 'Conversation not found',
    });
    expect(describeError(new BadRequestException(['a is bad', 'b is bad']))).toMatchObject({ message: 'a is bad; b is bad' });
  });

  it('maps Fastify body errors to 400, 413 and 415', () => {
    expect(describeError({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'x' })).toMatchObject({
      statusCode: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(describeError({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON', message: 'Unexpected token' })).toMatchObject({
      statusCode: 400,
      message: 'Malformed JSON body',
    });
    expect(describeError({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'x' })).toMatchObject({
      statusCode: 415,
    });
  });

  it('keeps the status and message of other Fastify client errors', () => {
    expect(describeError({ statusCode: 404, message: 'Route GET:/x not found' })).toEqual({
      statusCode: 404,
      code: 'NOT_FOUND',
      message: 'Route GET:/x not found',
    });
  });

  it('reports an unreachable database as 503, not 500', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(describeError(refused)).toMatchObject({ statusCode: 503, code: 'UNAVAILABLE' });
    const terminated = { message: 'Query failed', driverError: new Error('Connection terminated unexpectedly') };
    expect(describeError(terminated)).toMatchObject({ statusCode: 503 });
    const shuttingDown = { message: 'terminating connection due to administrator command', code: '57P01' };
    expect(describeError(shuttingDown)).toMatchObject({ statusCode: 503 });
  });

  it('hides everything about unexpected errors', () => {
    const described = describeError(new TypeError('secret internals at /srv/app.js:12'));
    expect(described).toEqual({ statusCode: 500, code: 'INTERNAL', message: 'Internal server error' });
  });
});
