import { ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { MAX_SEQ, PageLimit, SeqQuery } from '../pagination/query-params.js';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { createValidationPipe } from './validation.pipe.js';

class AgentSettings {
  @IsOptional()
  @IsIn(['auto', 'off'])
  mode?: string;
}

class Sample {
  @IsString()
  @MaxLength(5)
  title!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => AgentSettings)
  agent?: AgentSettings;
}

const metadata: ArgumentMetadata = { type: 'body', metatype: Sample };

async function errorOf(value: unknown): Promise<AppError> {
  try {
    await createValidationPipe().transform(value, metadata);
  } catch (error) {
    return error as AppError;
  }
  throw new Error('expected validation to fail');
}

describe('validation pipe', () => {
  it('reports every failing field, nested ones by dotted path', async () => {
    const error = await errorOf({ title: 'too long', agent: { mode: 'loud' } });
    expect(error).toBeInstanceOf(AppError);
    expect(error.getStatus()).toBe(400);
    expect(error.code).toBe('VALIDATION');
    expect(error.details).toEqual({
      title: ['title must be shorter than or equal to 5 characters'],
      'agent.mode': ['mode must be one of the following values: auto, off'],
    });
  });

  it('tells a missing or wrong-typed field only what it should be, not the limits it also misses', async () => {
    expect((await errorOf({})).details).toEqual({ title: ['title must be a string'] });
    expect((await errorOf({ title: 42 })).details).toEqual({ title: ['title must be a string'] });
    expect((await errorOf({ title: 'ok', agent: 'loud' })).details).toEqual({ agent: ['nested property agent must be either object or array'] });
  });

  it('rejects unknown fields instead of dropping them', async () => {
    const error = await errorOf({ title: 'ok', role: 'admin' });
    expect(error.details).toEqual({ role: ['property role should not exist'] });
  });

  it('rejects wrong types and non-object bodies', async () => {
    expect((await errorOf({ title: 42 })).details).toHaveProperty('title');
    expect((await errorOf([{ title: 'ok' }])).getStatus()).toBe(400);
    expect((await errorOf('title')).getStatus()).toBe(400);
    expect((await errorOf(null)).getStatus()).toBe(400);
  });

  it('returns an instance of the DTO class when valid', async () => {
    const value = await createValidationPipe().transform({ title: 'ok', agent: { mode: 'off' } }, metadata);
    expect(value).toBeInstanceOf(Sample);
    expect(value.agent).toBeInstanceOf(AgentSettings);
  });

  describe('on query strings, which it remembers once they passed', () => {
    class Page {
      @PageLimit(50)
      limit?: number;

      @SeqQuery('before')
      beforeSeq?: number;
    }
    const query: ArgumentMetadata = { type: 'query', metatype: Page };

    it('answers a repeated query string with a new instance of the same result', async () => {
      const pipe = createValidationPipe();
      const first = await pipe.transform({ limit: '20', beforeSeq: '7' }, query);
      const again = await pipe.transform({ limit: '20', beforeSeq: '7' }, query);
      expect(again).toBeInstanceOf(Page);
      expect(again).toEqual(first);
      expect(again).not.toBe(first);
      // A handler changing its copy changes nobody else's.
      again.limit = 99;
      expect(await pipe.transform({ limit: '20', beforeSeq: '7' }, query)).toEqual({ limit: 20, beforeSeq: 7 });
      expect(await pipe.transform({ limit: '21' }, query)).toEqual({ limit: 21 });
    });

    it('refuses a bad query string every time, and the same string under another DTO by its rules', async () => {
      const pipe = createValidationPipe();
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(pipe.transform({ limit: '0' }, query)).rejects.toThrow('Validation failed');
        await expect(pipe.transform({ beforeSeq: String(MAX_SEQ + 1) }, query)).rejects.toThrow('Validation failed');
        await expect(pipe.transform({ limit: '5', other: 'x' }, query)).rejects.toThrow('Validation failed');
      }
      class Strict {
        @PageLimit(5, 10)
        limit?: number;
      }
      expect(await pipe.transform({ limit: '50' }, query)).toEqual({ limit: 50 });
      await expect(pipe.transform({ limit: '50' }, { type: 'query', metatype: Strict })).rejects.toThrow('Validation failed');
    });
  });
});
