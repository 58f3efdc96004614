import type { Section } from '../chunker.js';
import { markdownSections, plainTextSections } from './text-extractor.js';

/** A document that cannot be read (corrupt, encrypted, empty): its message is shown to users. */
export class ExtractionError extends Error {}

type Extract = (bytes: Buffer) => Promise<Section[]> | Section[];

const utf8 = (bytes: Buffer) => new TextDecoder('utf-8').decode(bytes);

const EXTRACTORS: Record<string, Extract> = {
  'text/plain': (bytes) => plainTextSections(utf8(bytes)),
  'text/csv': (bytes) => plainTextSections(utf8(bytes)),
  'application/json': (bytes) => plainTextSections(utf8(bytes)),
  'text/markdown': (bytes) => markdownSections(utf8(bytes)),
};

/**
 * The text of a document, in sections that keep pages and headings. Images have no text: they
 * are attachments, read by vision models, and have no sections.
 */
export async function extractSections(mediaType: string, bytes: Buffer): Promise<Section[]> {
  const extract = EXTRACTORS[mediaType];
  if (!extract) return [];
  return extract(bytes);
}
