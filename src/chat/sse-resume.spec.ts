import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../common/errors.js';
import { type Progress, resumeFrom } from './sse-resume.js';

const PROPERTY = { numRuns: 500, seed: 20_261_201 };

/** What resumeFrom gives, or the error code and field it refuses with. */
async function outcome(lastEventId: string | undefined, query: { afterVersion?: number; afterSeq?: number }, progress: Progress) {
  try {
    return { point: await resumeFrom(lastEventId, query, progress, async () => progress) };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { status: error.getStatus(), code: error.code, fields: Object.keys(error.details ?? {}) };
  }
}

const at = (version: number, lastSeq = 0): Progress => ({ version, lastSeq });

describe('resumeFrom (the SSE resume point)', () => {
  it('resumes from any id this stream could have sent: a version the conversation has reached', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 1000 }), async (version, back) => {
        const id = Math.max(0, version - back);
        expect(await outcome(String(id), {}, at(version))).toEqual({ point: { afterVersion: id } });
      }),
      PROPERTY,
    );
  });

  it('refuses anything else as Last-Event-ID with a 400 VALIDATION naming it, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), fc.nat({ max: 1000 }), async (id, version) => {
        fc.pre(!(/^\d{1,16}$/.test(id) && Number(id) <= version));
        expect(await outcome(id, {}, at(version))).toEqual({ status: 400, code: 'VALIDATION', fields: ['Last-Event-ID'] });
      }),
      PROPERTY,
    );
  });

  it('refuses a version the conversation has not reached, even when the cached conversation trails', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 10_000 }), fc.integer({ min: 1, max: 1000 }), async (version, ahead) => {
        expect(await outcome(String(version + ahead), {}, at(version))).toMatchObject({ status: 400, fields: ['Last-Event-ID'] });
        expect(await outcome(undefined, { afterVersion: version + ahead }, at(version))).toMatchObject({ status: 400, fields: ['afterVersion'] });
        // A change made through another instance: the database knows it, the cache not yet.
        expect(await resumeFrom(String(version + ahead), {}, at(version), async () => at(version + ahead))).toEqual({ afterVersion: version + ahead });
      }),
      PROPERTY,
    );
  });

  it('takes Last-Event-ID over ?afterVersion=, that over the deprecated ?afterSeq=, and nothing without any', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 500 }), fc.nat({ max: 500 }), fc.nat({ max: 500 }), async (id, afterVersion, afterSeq) => {
        const progress = at(1000, 1000);
        expect(await outcome(String(id), { afterVersion, afterSeq }, progress)).toEqual({ point: { afterVersion: id } });
        expect(await outcome('', { afterVersion, afterSeq }, progress)).toEqual({ point: { afterVersion } });
        expect(await outcome(undefined, { afterSeq }, progress)).toEqual({ point: { afterSeq } });
        expect(await outcome(undefined, {}, progress)).toEqual({ point: undefined });
      }),
      PROPERTY,
    );
  });

  it('checks a deprecated ?afterSeq= against the last message', async () => {
    expect(await outcome(undefined, { afterSeq: 11 }, at(50, 10))).toEqual({ status: 400, code: 'VALIDATION', fields: ['afterSeq'] });
  });
});
