import { ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
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
});
