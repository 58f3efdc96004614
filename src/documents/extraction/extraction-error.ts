import type { Section } from '../chunker.js';

/** A document that cannot be read (damaged, encrypted, without text): its message is shown to users. */
export class ExtractionError extends Error {
  override readonly name = 'ExtractionError';
}

/** The end of the message for a document that holds no text, after "The PDF" or "The DOCX". */
export const NO_TEXT = 'has no text to extract: it may hold only scanned images, and text recognition (OCR) is not supported';

export interface ExtractedText {
  sections: Section[];
  /** The text reached the limit of characters and the rest was not read. */
  truncated: boolean;
}
