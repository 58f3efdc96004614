import type { Section } from '../chunker.js';

/** The opening of a Markdown ATX heading (`# Title`); setext headings are rare enough in uploads to read as text. */
const HEADING_OPENING = /^ {0,3}#{1,6}(?:[ \t]+|$)/;

/** The heading of a line, without its closing `#`s; undefined when the line is no heading. */
function headingOf(line: string): string | undefined {
  const opening = HEADING_OPENING.exec(line);
  if (!opening) return undefined;
  const text = line.slice(opening[0].length).trimEnd();
  // Scanned by hand: a pattern for "#s at the end" backtracks over a long run of them.
  let end = text.length;
  while (end > 0 && text[end - 1] === '#') end--;
  const heading = end === 0 || /[ \t]/.test(text[end - 1]!) ? text.slice(0, end).trim() : text;
  return heading || undefined;
}

/** Plain text, CSV and JSON: one section, read as they are. */
export function plainTextSections(text: string): Section[] {
  return [{ text }];
}

/** Markdown: a section per heading, so each chunk knows the heading it falls under. */
export function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  let heading: string | undefined;
  let lines: string[] = [];
  const close = () => {
    if (lines.some((line) => line.trim())) sections.push({ text: lines.join('\n'), ...(heading && { heading }) });
    lines = [];
  };
  for (const line of text.split('\n')) {
    const found = headingOf(line);
    if (found === undefined) {
      lines.push(line);
      continue;
    }
    close();
    heading = found;
    // The heading is also text of its section: a search for its words finds the section.
    lines.push(heading);
  }
  close();
  return sections;
}
