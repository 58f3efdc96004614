import { afterAll, describe, expect, it } from 'vitest';
import { buildDocx, buildPdf, deflatedRun, docxBomb, headingDocx, PAGE_WITH_SCRIPT, twoPagePdf, zip } from '../../../test/fixtures/documents/index.js';
import { DEFAULT_CHUNKING } from '../chunker.js';
import { ExtractionPool } from './extraction-pool.js';
import { ExtractionAborted, type ExtractionLimits } from './extraction-runner.js';
import { ExtractionError, extractSections } from './extractor.js';

const PDF = 'application/pdf';
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const MAX = 2_000_000;

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('extraction succeeded');
    },
    (error: unknown) => error,
  );

describe('extractSections', () => {
  it('reads a PDF page by page, a larger short line being a heading that carries over the page break', async () => {
    const { sections, truncated } = await extractSections(PDF, twoPagePdf(), MAX);
    expect(truncated).toBe(false);
    expect(sections).toEqual([
      { page: 1, heading: 'Harbour Regulations', text: 'Harbour Regulations\nVessels moor at the quay with a pilot aboard.\nThe harbourmaster assigns every berth.' },
      { page: 2, heading: 'Harbour Regulations', text: 'Mooring lines are checked at low water.\nAnchoring in the fairway is forbidden.' },
    ]);
  });

  it('finds no heading in a PDF whose text is all one size', async () => {
    const { sections } = await extractSections(PDF, buildPdf([[{ text: 'One size.' }, { text: 'Throughout the page.' }]]), MAX);
    expect(sections).toEqual([{ page: 1, text: 'One size.\nThroughout the page.' }]);
  });

  it('says why a PDF cannot be read', async () => {
    const encrypted = await failure(extractSections(PDF, buildPdf([[{ text: 'Secret' }]], { encrypted: true }), MAX));
    expect(encrypted).toBeInstanceOf(ExtractionError);
    expect((encrypted as Error).message).toMatch(/^The PDF is password-protected/);
    const corrupt = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(3000, 0x41)]);
    expect(((await failure(extractSections(PDF, corrupt, MAX))) as Error).message).toBe('The PDF is damaged or is not a PDF');
    const truncatedFile = twoPagePdf().subarray(0, 200);
    expect(await failure(extractSections(PDF, truncatedFile, MAX))).toBeInstanceOf(ExtractionError);
    const scanned = await failure(extractSections(PDF, buildPdf([[]]), MAX));
    expect((scanned as Error).message).toMatch(/^The PDF has no text to extract: it may hold only scanned images/);
  });

  it('keeps the first characters of a long PDF and says it cut it', async () => {
    const pages = Array.from({ length: 5 }, (_, page) => [{ text: `Page ${page + 1} has words enough.` }]);
    const { sections, truncated } = await extractSections(PDF, buildPdf(pages), 50);
    expect(truncated).toBe(true);
    expect(sections.map((section) => section.text).join('').length).toBe(50);
    expect(sections.map((section) => section.page)).toEqual([1, 2, 3]);
  });

  it('reads DOCX headings (Heading 1…6) as section headings', async () => {
    expect((await extractSections(DOCX, headingDocx(), MAX)).sections).toEqual([
      { heading: 'Lighthouse Keeping', text: 'Lighthouse Keeping\nThe lamp is trimmed every evening at dusk.' },
    ]);
  });

  it('says why a DOCX cannot be read', async () => {
    const document = headingDocx();
    const broken = await failure(extractSections(DOCX, document.subarray(0, document.length - 40), MAX));
    expect((broken as Error).message).toBe('The DOCX file is damaged or is not a Word document');
    const notWord = await failure(extractSections(DOCX, zip({ 'hello.txt': 'hello' }), MAX));
    expect((notWord as Error).message).toBe('The DOCX file is damaged or is not a Word document');
    const empty = await failure(extractSections(DOCX, buildDocx([]), MAX));
    expect((empty as Error).message).toMatch(/^The DOCX has no text to extract/);
  });

  it('reads HTML without its scripts, styles and comments', async () => {
    const { sections } = await extractSections('text/html', Buffer.from(PAGE_WITH_SCRIPT), MAX);
    const text = sections.map((section) => section.text).join(' ');
    expect(text).not.toMatch(/tidesecret|tidestyle|tidenoscript|tidecomment/);
    expect(sections.map((section) => section.heading)).toEqual([undefined, 'Spring tides', 'Neap tides']);
  });

  it('reads Markdown ATX headings, closing #s and all, and nothing else as a heading', async () => {
    const markdown = '#hashtag intro\n# Tides ##\ntext one\n  ## Locks#2 #\ntext two\n####### seven\n#\n';
    const { sections } = await extractSections('text/markdown', Buffer.from(markdown), MAX);
    expect(sections.map((section) => section.heading)).toEqual([undefined, 'Tides', 'Locks#2']);
    const started = performance.now();
    await extractSections('text/markdown', Buffer.from(`# ${'#'.repeat(100_000)}x\n${'# '.repeat(50_000)}\n`), MAX);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reads no more text than the limit, without decoding the rest', async () => {
    const { sections, truncated } = await extractSections('text/plain', Buffer.from('é'.repeat(5000)), 1000);
    expect(truncated).toBe(true);
    expect(sections[0]!.text).toBe('é'.repeat(1000));
  });
});

describe('extraction in a worker process', () => {
  const limits: ExtractionLimits = { timeoutMs: 30_000, memoryMb: 256, maxChars: MAX, chunking: DEFAULT_CHUNKING };
  const never = new AbortController().signal;
  const pool = new ExtractionPool({ size: 2 });
  const runExtraction = pool.run.bind(pool);
  afterAll(() => pool.close());

  it('extracts and chunks in a worker', async () => {
    const { chunks, truncated } = await runExtraction(PDF, twoPagePdf(), limits, never);
    expect(truncated).toBe(false);
    expect(chunks.map(({ page, heading }) => ({ page, heading }))).toEqual([
      { page: 1, heading: 'Harbour Regulations' },
      { page: 2, heading: 'Harbour Regulations' },
    ]);
  });

  it('tells users what is wrong with their file', async () => {
    const error = await failure(runExtraction(PDF, buildPdf([[{ text: 'x' }]], { encrypted: true }), limits, never));
    expect(error).toBeInstanceOf(ExtractionError);
    expect((error as Error).message).toMatch(/password-protected/);
  });

  it('stops a worker past its time', async () => {
    const started = Date.now();
    const error = await failure(runExtraction('text/plain', Buffer.alloc(8_000_000, 'word. '), { ...limits, timeoutMs: 200 }, never));
    expect((error as Error).message).toBe('Extracting the text took too long (over 0.2 s); try a smaller document');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops a worker past its memory, and fails only its document', async () => {
    const html = Buffer.from(`<p>${'a'.repeat(60_000_000)}</p>`);
    const error = await failure(runExtraction('text/html', html, { ...limits, memoryMb: 64, maxChars: 100_000_000 }, never));
    expect((error as Error).message).toBe('The document needs more memory to process than this server allows');
  });

  it('stops a worker whose memory outside the heap grows past twice its heap: a PDF stream inflating to 1 GB', async () => {
    // FlateDecode is zlib: a two-byte header, the deflated data, a checksum pdf.js does not verify.
    const stream = Buffer.concat([Buffer.from([0x78, 0x9c]), deflatedRun(1024 * 1024 * 1024), Buffer.alloc(4)]);
    // The page's content stream (its dictionary, data and end marker) is swapped for the bomb.
    const text = buildPdf([[{ text: 'x' }]]).toString('latin1');
    const start = text.lastIndexOf('<< /Length ', text.indexOf('\nstream\n'));
    const end = text.indexOf('\nendstream', start) + '\nendstream'.length;
    const [head, tail] = [text.slice(0, start), text.slice(end)];
    const bomb = Buffer.concat([Buffer.from(`${head}<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'), stream, Buffer.from(`\nendstream${tail}`, 'latin1')]);
    const error = await failure(runExtraction(PDF, bomb, { ...limits, memoryMb: 64 }, never));
    expect((error as Error).message).toBe('The document needs more memory to process than this server allows');
  });

  it('refuses a DOCX bomb in the worker before it unpacks it', async () => {
    const error = await failure(runExtraction(DOCX, docxBomb(1024 * 1024 * 1024, { forged: true }), limits, never));
    expect((error as Error).message).toMatch(/^The DOCX file expands to more than [\d,.]+ MB when unpacked$/);
  });

  it('stops at once when aborted', async () => {
    const abort = new AbortController();
    const running = failure(runExtraction('text/plain', Buffer.alloc(8_000_000, 'word. '), limits, abort.signal));
    abort.abort();
    expect(await running).toBeInstanceOf(ExtractionAborted);
  });
});
