import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { HealthIndicators } from './health/health.indicators.js';

@Injectable()
class Clock {
  now(): number {
    return 42;
  }
}

@Injectable()
class UsesClock {
  constructor(readonly clock: Clock) {}
}

describe('decorator metadata', () => {
  it('is emitted, so Nest can inject constructor parameters by their type alone', async () => {
    const moduleRef = await Test.createTestingModule({ providers: [Clock, UsesClock] }).compile();
    expect(moduleRef.get(UsesClock).clock.now()).toBe(42);
  });

  it('is present on application providers', () => {
    const types = Reflect.getMetadata('design:paramtypes', HealthIndicators) as unknown[];
    expect(types?.map((type) => (type as { name: string }).name)).toEqual([
      'HealthIndicatorService',
      'DataSource',
      'RedisConnection',
      'ReadinessService',
      'McpClients',
    ]);
  });
});
