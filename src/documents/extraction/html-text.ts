import type { Section } from '../chunker.js';

/** Elements whose content is never text, with the end tag their content is skipped to. */
const SKIPPED: Record<string, RegExp> = {
  script: /<\/script(?=[\s/>])/gi,
  style: /<\/style(?=[\s/>])/gi,
  noscript: /<\/noscript(?=[\s/>])/gi,
  template: /<\/template(?=[\s/>])/gi,
};
/** Elements that start a new line of text. */
const BLOCKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'caption', 'dd', 'details', 'dialog', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary',
  'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'title', 'tr', 'ul',
]);
const HEADING = /^h[1-6]$/;
/** The longest heading kept: the heading's words stay in the text all the same. */
const HEADING_MAX_CHARS = 500;

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', shy: '', copy: '©', reg: '®', trade: '™', deg: '°',
  hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', bull: '•',
  middot: '·', euro: '€', pound: '£', yen: '¥', cent: '¢', sect: '§', para: '¶', plusmn: '±', times: '×', divide: '÷',
  frac12: '½', frac14: '¼', frac34: '¾', auml: 'ä', ouml: 'ö', uuml: 'ü', Auml: 'Ä', Ouml: 'Ö', Uuml: 'Ü', szlig: 'ß',
  eacute: 'é', egrave: 'è', ecirc: 'ê', aacute: 'á', agrave: 'à', iacute: 'í', oacute: 'ó', uacute: 'ú', ntilde: 'ñ', ccedil: 'ç',
};
/** Numeric references (the semicolon is optional, as browsers read them) and named ones. */
const ENTITY = /&(?:#(\d{1,8});?|#[xX]([0-9a-fA-F]{1,7});?|([a-zA-Z][a-zA-Z0-9]{1,31});)/g;

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, decimal: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED_ENTITIES[name] ?? whole;
    const code = decimal !== undefined ? Number(decimal) : Number.parseInt(hex!, 16);
    // NUL, surrogates and values past Unicode are replaced, as browsers do.
    return code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff ? '\uFFFD' : String.fromCodePoint(code);
  });
}

export interface HtmlText {
  sections: Section[];
  /** The text reached `maxChars` and the rest was not read. */
  truncated: boolean;
}

/** Collects text into sections, one per heading, up to a number of characters. */
class SectionBuilder {
  readonly sections: Section[] = [];
  private parts: string[] = [];
  private chars = 0;
  private heading: string | undefined;
  /** The text of the heading being read, while inside h1–h6. */
  private headingParts: string[] | undefined;
  truncated = false;

  constructor(private readonly maxChars: number) {}

  text(raw: string): void {
    const text = decodeEntities(raw).replace(/\s+/g, ' ');
    if (!text || this.truncated) return;
    const room = this.maxChars - this.chars;
    const kept = text.length > room ? text.slice(0, room) : text;
    if (kept.length < text.length) this.truncated = true;
    this.parts.push(kept);
    this.chars += kept.length;
    this.headingParts?.push(kept);
  }

  lineBreak(): void {
    if (this.parts.length && this.parts[this.parts.length - 1] !== '\n') this.parts.push('\n');
  }

  startHeading(): void {
    this.close();
    this.headingParts = [];
  }

  endHeading(): void {
    if (!this.headingParts) return;
    const heading = this.headingParts.join('').replace(/\s+/g, ' ').trim().slice(0, HEADING_MAX_CHARS);
    this.headingParts = undefined;
    if (heading) this.heading = heading;
    this.lineBreak();
  }

  close(): void {
    const text = this.parts.join('');
    if (text.trim()) this.sections.push({ text, ...(this.heading && { heading: this.heading }) });
    this.parts = [];
  }
}

/**
 * The readable text of an HTML document, in sections under its h1–h6 headings. A tolerant,
 * single-pass tokenizer: every scan either moves past what it read or ends the input, so crafted
 * markup (unclosed tags, quotes or comments by the thousand) costs linear time. Script, style,
 * noscript and template content and comments are dropped; block elements break lines; character
 * references are decoded. Like a browser, it drops an unterminated tag or comment at the end.
 */
export function htmlSections(html: string, maxChars = Number.POSITIVE_INFINITY): HtmlText {
  const out = new SectionBuilder(maxChars);
  let position = 0;
  while (position < html.length && !out.truncated) {
    const open = html.indexOf('<', position);
    if (open === -1) {
      out.text(html.slice(position));
      break;
    }
    if (open > position) out.text(html.slice(position, open));
    position = readMarkup(html, open, out);
  }
  out.close();
  return { sections: out.sections, truncated: out.truncated };
}

/** Reads the markup at `open` (a `<`), and returns where the text after it starts. */
function readMarkup(html: string, open: number, out: SectionBuilder): number {
  const next = html[open + 1];
  if (html.startsWith('!--', open + 1)) return after(html, '-->', open + 4);
  // Doctype, CDATA, processing instructions, `</ x>`: bogus comments up to the next `>`.
  if (next === '!' || next === '?' || (next === '/' && !isLetter(html[open + 2]))) return after(html, '>', open + 2);
  const closing = next === '/';
  const nameStart = closing ? open + 2 : open + 1;
  if (!isLetter(html[nameStart])) {
    out.text('<');
    return open + 1;
  }
  let nameEnd = nameStart;
  while (nameEnd < html.length && !/[\s/>]/.test(html[nameEnd]!)) nameEnd++;
  const name = html.slice(nameStart, nameEnd).toLowerCase();
  const end = tagEnd(html, nameEnd);
  if (end === html.length) return end;
  if (closing) {
    if (HEADING.test(name)) out.endHeading();
    else if (BLOCKS.has(name)) out.lineBreak();
    return end;
  }
  if (Object.hasOwn(SKIPPED, name)) return skipElement(html, SKIPPED[name]!, end);
  if (HEADING.test(name)) out.startHeading();
  else if (BLOCKS.has(name)) out.lineBreak();
  return end;
}

/**
 * Just past the `>` that ends a tag whose name ends at `from`, or the input's end. A quote opens an
 * attribute value only after `=`, as in browsers, so a stray quote does not swallow the document.
 */
function tagEnd(html: string, from: number): number {
  let afterEquals = false;
  for (let index = from; index < html.length; index++) {
    const char = html[index]!;
    if (char === '>') return index + 1;
    if ((char === '"' || char === "'") && afterEquals) {
      const close = html.indexOf(char, index + 1);
      if (close === -1) return html.length;
      index = close;
      afterEquals = false;
    } else if (char === '=') afterEquals = true;
    else if (!/\s/.test(char)) afterEquals = false;
  }
  return html.length;
}

/** Past the end tag of a skipped element (script, style, …), or the input's end when it has none. */
function skipElement(html: string, endTag: RegExp, from: number): number {
  endTag.lastIndex = from;
  const found = endTag.exec(html);
  return found ? tagEnd(html, found.index + found[0].length) : html.length;
}

function after(html: string, marker: string, from: number): number {
  const found = html.indexOf(marker, from);
  return found === -1 ? html.length : found + marker.length;
}

function isLetter(char: string | undefined): boolean {
  return char !== undefined && /[a-zA-Z]/.test(char);
}
