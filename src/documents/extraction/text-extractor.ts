import type { Section } from '../chunker.js';

/** Markdown ATX headings (`# Title`); setext headings are rare enough in uploads to read as text. */
const MARKDOWN_HEADING = /^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$/;

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
    const match = MARKDOWN_HEADING.exec(line);
    if (!match) {
      lines.push(line);
      continue;
    }
    close();
    heading = match[2]!;
    // The heading is also text of its section: a search for its words finds the section.
    lines.push(heading);
  }
  close();
  return sections;
}
