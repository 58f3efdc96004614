import * as fc from 'fast-check';
import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { deflatedRun, docxBomb, headingDocx, zip } from '../../../test/fixtures/documents/index.js';
import { docxSections } from './docx-extractor.js';
import { ExtractionError } from './extraction-error.js';
import { checkUnpackedSize, ZipRefused } from './zip-limits.js';

const MB = 1024 * 1024;
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the archive was accepted');
    },
    (error: unknown) => {
      if (!(error instanceof ZipRefused)) throw error;
      return error.refusal;
    },
  );

/** The growth of the resident memory while `work` runs, sampled as it goes. */
async function rssGrowth(work: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage.rss()) - before;
}

describe('checkUnpackedSize', () => {
  it('accepts a Word document within the limits', async () => {
    await expect(checkUnpackedSize(headingDocx(), { maxBytes: 64 * 1024, maxEntries: 5 })).resolves.toBeUndefined();
  });

  it.each([false, true])('refuses a document that unpacks to 1 GB, its sizes forged: %s, without ever holding what it unpacks', async (forged) => {
    const bomb = docxBomb(1024 * MB, { forged });
    expect(bomb.length).toBeLessThan(2 * MB);
    let refused: unknown;
    const growth = await rssGrowth(async () => (refused = await refusal(checkUnpackedSize(bomb, { maxBytes: 512 * MB, maxEntries: 100 }))));
    expect(refused).toEqual({ reason: 'too-large', maxBytes: 512 * MB });
    expect(growth).toBeLessThan(200 * MB);
  });

  it('counts every entry against one budget', async () => {
    const archive = zip({ a: { packed: deflatedRun(3 * MB), size: 10 }, b: { packed: deflatedRun(3 * MB), size: 10 } });
    await expect(checkUnpackedSize(archive, { maxBytes: 6 * MB, maxEntries: 2 })).resolves.toBeUndefined();
    expect(await refusal(checkUnpackedSize(archive, { maxBytes: 6 * MB - 1, maxEntries: 2 }))).toEqual({ reason: 'too-large', maxBytes: 6 * MB - 1 });
    expect(await refusal(checkUnpackedSize(archive, { maxBytes: 6 * MB, maxEntries: 1 }))).toEqual({ reason: 'too-many-entries', maxEntries: 1 });
  });

  it('counts stored entries at their size, and refuses other compression methods and encrypted entries', async () => {
    const stored = zip({ a: { packed: Buffer.alloc(1000, 1), size: 1, method: 0 } });
    await expect(checkUnpackedSize(stored, { maxBytes: 1000, maxEntries: 1 })).resolves.toBeUndefined();
    expect(await refusal(checkUnpackedSize(stored, { maxBytes: 999, maxEntries: 1 }))).toEqual({ reason: 'too-large', maxBytes: 999 });
    const bzip2 = zip({ a: { packed: Buffer.from('BZh91AY&SY'), size: 10, method: 12 } });
    expect(await refusal(checkUnpackedSize(bzip2, { maxBytes: MB, maxEntries: 1 }))).toEqual({ reason: 'damaged' });
    const encrypted = zip({ a: 'secret' });
    encrypted.writeUInt16LE(1, encrypted.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 8);
    expect(await refusal(checkUnpackedSize(encrypted, { maxBytes: MB, maxEntries: 1 }))).toEqual({ reason: 'damaged' });
  });

  it('refuses what is not a whole ZIP archive', async () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('not a zip at all'), headingDocx().subarray(0, 600), headingDocx().subarray(100)]) {
      expect(await refusal(checkUnpackedSize(bytes, { maxBytes: MB, maxEntries: 10 }))).toEqual({ reason: 'damaged' });
    }
    const truncatedStream = zip({ a: { packed: deflatedRun(MB).subarray(0, 500), size: MB } });
    expect(await refusal(checkUnpackedSize(truncatedStream, { maxBytes: 2 * MB, maxEntries: 1 }))).toEqual({ reason: 'damaged' });
  });

  it('lets through only archives that JSZip, which mammoth reads with, unpacks within the budget', async () => {
    const original = zip({ 'word/document.xml': 'x'.repeat(4000), 'word/styles.xml': '<styles/>', big: { packed: deflatedRun(MB), size: 20 } });
    const maxBytes = 2 * MB;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), async (edits) => {
        const bytes = Buffer.from(original);
        for (const [at, value] of edits) bytes[at] = value;
        const accepted = await checkUnpackedSize(bytes, { maxBytes, maxEntries: 10 }).then(
          () => true,
          (error: unknown) => {
            if (error instanceof ZipRefused) return false;
            throw error;
          },
        );
        if (!accepted) return;
        const archive = await JSZip.loadAsync(bytes).catch(() => null);
        let unpacked = 0;
        for (const file of Object.values(archive?.files ?? {})) unpacked += (await file.async('uint8array').catch(() => new Uint8Array())).length;
        expect(unpacked).toBeLessThanOrEqual(maxBytes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('docxSections', () => {
  it('fails a ZIP bomb with a reason people can read, and still reads a Word document', async () => {
    const error = await docxSections(docxBomb(64 * MB, { forged: true }), 1000, { maxBytes: 16 * MB, maxEntries: 100 }).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ExtractionError);
    expect((error as Error).message).toBe('The DOCX file expands to more than 16 MB when unpacked');
    const crowded = await docxSections(headingDocx(), 1000, { maxBytes: MB, maxEntries: 2 }).catch((failure: unknown) => failure);
    expect((crowded as Error).message).toBe('The DOCX file holds more than 2 parts');
    const { sections } = await docxSections(headingDocx(), 1000);
    expect(sections).toEqual([{ heading: 'Lighthouse Keeping', text: 'Lighthouse Keeping\nThe lamp is trimmed every evening at dusk.' }]);
  });
});
