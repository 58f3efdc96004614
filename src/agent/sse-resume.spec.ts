import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../common/errors.js';
import { resumeAfter } from './sse-resume.js';

const PROPERTY = { numRuns: 500, seed: 20_261_201 };

/** What resumeAfter gives, or the error code and field it refuses with. */
async function outcome(lastEventId: string | undefined, afterSeq: number | undefined, lastSeq: number) {
  try {
    return { seq: await resumeAfter(lastEventId, afterSeq, lastSeq, async () => lastSeq) };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { status: error.getStatus(), code: error.code, fields: Object.keys(error.details ?? {}) };
  }
}

describe('resumeAfter (the SSE resume point)', () => {
  it('resumes from any id this stream could have sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 2_147_483_647 }), fc.nat({ max: 1000 }), async (lastSeq, back) => {
        const id = Math.max(0, lastSeq - back);
        expect(await outcome(String(id), undefined, lastSeq)).toEqual({ seq: id });
      }),
      PROPERTY,
    );
  });

  it('refuses anything else as Last-Event-ID with a 400 VALIDATION naming it, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), fc.nat({ max: 1000 }), async (id, lastSeq) => {
        fc.pre(!(/^\d{1,10}$/.test(id) && Number(id) <= lastSeq));
        expect(await outcome(id, undefined, lastSeq)).toEqual({ status: 400, code: 'VALIDATION', fields: ['Last-Event-ID'] });
      }),
      PROPERTY,
    );
  });

  it('refuses an id past the last message even when the cached conversation trails', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 10_000 }), fc.integer({ min: 1, max: 1000 }), async (lastSeq, ahead) => {
        expect(await outcome(String(lastSeq + ahead), undefined, lastSeq)).toMatchObject({ status: 400, fields: ['Last-Event-ID'] });
        // A message sent through another instance: the database knows it, the cache not yet.
        expect(await resumeAfter(String(lastSeq + ahead), undefined, lastSeq, async () => lastSeq + ahead)).toBe(lastSeq + ahead);
      }),
      PROPERTY,
    );
  });

  it('takes Last-Event-ID over ?afterSeq=, and ?afterSeq= when there is no id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 500 }), fc.nat({ max: 500 }), async (id, afterSeq) => {
        expect(await outcome(String(id), afterSeq, 1000)).toEqual({ seq: id });
        expect(await outcome(undefined, afterSeq, 1000)).toEqual({ seq: afterSeq });
        expect(await outcome('', afterSeq, 1000)).toEqual({ seq: afterSeq });
      }),
      PROPERTY,
    );
  });
});
