import mammoth from 'mammoth';
import { ExtractionError, type ExtractedText, NO_TEXT } from './extraction-error.js';
import { htmlSections } from './html-text.js';

/** Images are not read at all: their bytes would only be encoded into the HTML and dropped. */
const NO_IMAGES = mammoth.images.imgElement(async () => ({ src: '' }));

/**
 * The text of a Word document. mammoth maps the styles Heading 1–6 to h1–h6, so the HTML reader
 * turns them into section headings; tables, lists and paragraphs become lines.
 */
export async function docxSections(bytes: Buffer, maxChars: number): Promise<ExtractedText> {
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes }, { convertImage: NO_IMAGES, ignoreEmptyParagraphs: true })).value;
  } catch {
    throw new ExtractionError('The DOCX file is damaged or is not a Word document');
  }
  const text = htmlSections(html, maxChars);
  if (!text.sections.length) throw new ExtractionError(`The DOCX ${NO_TEXT}`);
  return text;
}
