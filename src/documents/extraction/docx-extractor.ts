import { getHeapStatistics } from 'node:v8';
import mammoth from 'mammoth';
import { ExtractionError, type ExtractedText, NO_TEXT } from './extraction-error.js';
import { htmlSections } from './html-text.js';
import { checkUnpackedSize, type UnpackLimits, ZipRefused } from './zip-limits.js';

/** Images are not read at all: their bytes would only be encoded into the HTML and dropped. */
const NO_IMAGES = mammoth.images.imgElement(async () => ({ src: '' }));

const MB = 1024 * 1024;
const DAMAGED = 'The DOCX file is damaged or is not a Word document';

/**
 * What a Word document may unpack to. mammoth unpacks the parts it reads into buffers outside the
 * heap, then decodes them into strings and a tree inside it: parts larger than half the heap (set
 * by DOCUMENT_EXTRACTION_MEMORY_MB) could not be converted anyway, and the cap keeps the memory
 * outside the heap within it. Real documents hold tens of parts; thousands only slow the reading.
 */
export function docxUnpackLimits(): UnpackLimits {
  return { maxBytes: Math.floor(getHeapStatistics().heap_size_limit / 2 / MB) * MB, maxEntries: 10_000 };
}

/** Refuses a ZIP bomb before mammoth, which unpacks whatever it reads in full, sees it. */
async function checkArchive(bytes: Buffer, limits: UnpackLimits): Promise<void> {
  try {
    await checkUnpackedSize(bytes, limits);
  } catch (error) {
    if (!(error instanceof ZipRefused)) throw error;
    const { refusal } = error;
    if (refusal.reason === 'too-large') throw new ExtractionError(`The DOCX file expands to more than ${(refusal.maxBytes / MB).toLocaleString('en-US', { maximumFractionDigits: 1 })} MB when unpacked`);
    if (refusal.reason === 'too-many-entries') throw new ExtractionError(`The DOCX file holds more than ${refusal.maxEntries.toLocaleString('en-US')} parts`);
    throw new ExtractionError(DAMAGED);
  }
}

/**
 * The text of a Word document. mammoth maps the styles Heading 1–6 to h1–h6, so the HTML reader
 * turns them into section headings; tables, lists and paragraphs become lines.
 */
export async function docxSections(bytes: Buffer, maxChars: number, limits: UnpackLimits = docxUnpackLimits()): Promise<ExtractedText> {
  await checkArchive(bytes, limits);
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes }, { convertImage: NO_IMAGES, ignoreEmptyParagraphs: true })).value;
  } catch {
    throw new ExtractionError(DAMAGED);
  }
  const text = htmlSections(html, maxChars);
  if (!text.sections.length) throw new ExtractionError(`The DOCX ${NO_TEXT}`);
  return text;
}
