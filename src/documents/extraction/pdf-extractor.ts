import { getDocumentProxy } from 'unpdf';
import type { Section } from '../chunker.js';
import { ExtractionError, type ExtractedText, NO_TEXT } from './extraction-error.js';

interface Line {
  text: string;
  /** The font size of its largest glyphs, in points. */
  size: number;
  page: number;
}

interface PdfTextItem {
  str: string;
  transform: number[];
  hasEOL: boolean;
}

/** A line this much larger than the body text is a heading… */
const HEADING_SCALE = 1.15;
/** …when it is short enough to be one. */
const HEADING_MAX_CHARS = 150;

const PASSWORD_PROTECTED = 'The PDF is password-protected: upload it without a password';
const DAMAGED = 'The PDF is damaged or is not a PDF';

/**
 * The text of a PDF, page by page. PDFs do not mark headings; pdf.js gives each run of text its
 * font size, and a short line set clearly larger than the body text (the size most characters
 * have) is taken as a heading: cheap, as the sizes come with the text, and reliable for the
 * documents word processors export. A PDF whose text is all one size simply has no headings.
 */
export async function pdfSections(bytes: Uint8Array, maxChars: number): Promise<ExtractedText> {
  let document;
  try {
    // No eval of font programs (CVE-2024-4367), no system fonts, no console noise.
    document = await getDocumentProxy(bytes, { isEvalSupported: false, useSystemFonts: false, disableFontFace: true, verbosity: 0 });
  } catch (error) {
    throw new ExtractionError((error as Error)?.name === 'PasswordException' ? PASSWORD_PROTECTED : DAMAGED);
  }
  try {
    const { lines, truncated } = await readLines(document, maxChars);
    if (!lines.some((line) => /\S/.test(line.text))) throw new ExtractionError(`The PDF ${NO_TEXT}`);
    return { sections: toSections(lines), truncated };
  } finally {
    await document.destroy();
  }
}

async function readLines(document: Awaited<ReturnType<typeof getDocumentProxy>>, maxChars: number): Promise<{ lines: Line[]; truncated: boolean }> {
  const lines: Line[] = [];
  let chars = 0;
  for (let number = 1; number <= document.numPages; number++) {
    let items: PdfTextItem[];
    try {
      const page = await document.getPage(number);
      // Marked-content boundaries carry no text.
      items = (await page.getTextContent()).items.filter((item) => 'str' in item) as PdfTextItem[];
      page.cleanup();
    } catch {
      throw new ExtractionError(`${DAMAGED} (page ${number} cannot be read)`);
    }
    for (const line of linesOf(items, number)) {
      if (chars + line.text.length > maxChars) {
        lines.push({ ...line, text: line.text.slice(0, maxChars - chars) });
        return { lines, truncated: true };
      }
      chars += line.text.length;
      lines.push(line);
    }
  }
  return { lines, truncated: false };
}

function linesOf(items: PdfTextItem[], page: number): Line[] {
  const lines: Line[] = [];
  let text = '';
  let size = 0;
  const end = () => {
    if (text.trim()) lines.push({ text: text.trim(), size, page });
    text = '';
    size = 0;
  };
  for (const item of items) {
    text += item.str;
    // The glyphs' height: the vertical scale of the text matrix.
    if (item.str.trim()) size = Math.max(size, Math.round(Math.hypot(item.transform[2] ?? 0, item.transform[3] ?? 0) * 10) / 10);
    if (item.hasEOL) end();
  }
  end();
  return lines;
}

function bodySize(lines: Line[]): number {
  const charsBySize = new Map<number, number>();
  for (const line of lines) charsBySize.set(line.size, (charsBySize.get(line.size) ?? 0) + line.text.length);
  let body = 0;
  let most = -1;
  for (const [size, chars] of charsBySize) if (chars > most) [body, most] = [size, chars];
  return body;
}

interface Draft {
  lines: string[];
  page: number;
  heading: string | undefined;
}

/** A section per page and heading; consecutive heading lines (a title on two lines) are one heading. */
function toSections(lines: Line[]): Section[] {
  const body = bodySize(lines);
  const isHeading = (line: Line) => line.size >= body * HEADING_SCALE && line.text.length <= HEADING_MAX_CHARS && /\p{L}/u.test(line.text);
  const drafts: Draft[] = [];
  let heading: string | undefined;
  let current: Draft | undefined;
  let previousWasHeading = false;
  for (const line of lines) {
    const headingLine = isHeading(line);
    const continuesHeading = headingLine && previousWasHeading && current?.page === line.page;
    if (headingLine) heading = continuesHeading ? `${heading} ${line.text}` : line.text;
    if (!current || current.page !== line.page || (headingLine && !continuesHeading)) {
      current = { lines: [], page: line.page, heading };
      drafts.push(current);
    }
    current.heading = heading;
    current.lines.push(line.text);
    previousWasHeading = headingLine;
  }
  return drafts.map((draft) => ({ text: draft.lines.join('\n'), page: draft.page, ...(draft.heading && { heading: draft.heading.slice(0, 500) }) }));
}
