import type { ValueTransformer } from 'typeorm';

/**
 * PostgreSQL's bigint arrives as a string (it may exceed 2^53). Counters that grow by one per
 * change never get near that, so they are read as plain numbers.
 */
export const BIGINT_AS_NUMBER: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
