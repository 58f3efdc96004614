import { ExtractionError, type ExtractedText } from './extraction-error.js';
import { htmlSections } from './html-text.js';
import { pdfSections } from './pdf-extractor.js';
import { markdownSections, plainTextSections } from './text-extractor.js';

export { ExtractionError, type ExtractedText } from './extraction-error.js';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

type Extract = (bytes: Buffer, maxChars: number) => Promise<ExtractedText> | ExtractedText;

/** Text read up to `maxChars`: what is beyond is not decoded at all. */
function textOf(bytes: Buffer, maxChars: number): { text: string; truncated: boolean } {
  // A character takes at most 4 bytes of UTF-8, so this many bytes always hold maxChars.
  const head = bytes.length > maxChars * 4 ? bytes.subarray(0, maxChars * 4) : bytes;
  const text = new TextDecoder('utf-8').decode(head);
  return text.length > maxChars ? { text: text.slice(0, maxChars), truncated: true } : { text, truncated: head.length < bytes.length };
}

const asText =
  (sections: (text: string) => ExtractedText['sections']): Extract =>
  (bytes, maxChars) => {
    const { text, truncated } = textOf(bytes, maxChars);
    return { sections: sections(text), truncated };
  };

const EXTRACTORS: Record<string, Extract> = {
  'text/plain': asText(plainTextSections),
  'text/csv': asText(plainTextSections),
  'application/json': asText(plainTextSections),
  'text/markdown': asText(markdownSections),
  // Markup takes more characters than its text: the cap applies to the text.
  'text/html': (bytes, maxChars) => htmlSections(new TextDecoder('utf-8').decode(bytes), maxChars),
  'application/pdf': (bytes, maxChars) => pdfSections(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), maxChars),
  // Loaded on first use: mammoth is only needed in the extraction workers, and the server process
  // imports this module for hasText.
  [DOCX]: async (bytes, maxChars) => (await import('./docx-extractor.js')).docxSections(bytes, maxChars),
};

/** Whether a document of this type has text to extract (images are attachments for vision models). */
export function hasText(mediaType: string): boolean {
  return Object.hasOwn(EXTRACTORS, mediaType);
}

/**
 * The text of a document, in sections that keep pages and headings, up to `maxChars` characters.
 * Throws an ExtractionError, whose message users read, for a document that cannot be read.
 */
export async function extractSections(mediaType: string, bytes: Buffer, maxChars: number): Promise<ExtractedText> {
  const extract = hasText(mediaType) ? EXTRACTORS[mediaType] : undefined;
  if (!extract) throw new ExtractionError(`Documents of type ${mediaType} have no text to extract`);
  return extract(bytes, maxChars);
}
