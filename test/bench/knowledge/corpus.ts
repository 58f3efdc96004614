/**
 * Deterministic synthetic text for the knowledge benchmarks: a vocabulary ranked like real
 * language (a few very common words, a long tail of rare ones, drawn with Zipf's law), sentences
 * and documents made from it, simple multi-page PDFs, and search queries over the same words.
 */

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The most frequent words first: function words (stop words to the search) mixed with common content words. */
const COMMON = `the of and to in a is that for it on with as was be by this are or from at which an not have
  but they can all their has more one were will there been we project data team report customer system
  would about other when time new its these some only also than into may should first process budget
  service product review plan market support design quality release account policy meeting contract
  security network model analysis research training invoice payment schedule update feature request
  issue change risk cost performance deadline manager client server database storage backup office
  strategy revenue growth forecast quarter vendor supplier order delivery shipment inventory warehouse`
  .split(/\s+/)
  .filter(Boolean);

const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'cr', 'dr', 'gr', 'pl', 'st', 'tr', 'sh', 'ch', 'th'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm', 'x', 'nd', 'st', 'rk'];

/**
 * `size` distinct lowercase words, most frequent first. Beyond the common words they are made-up
 * words of two to four syllables: the stemmer treats them like any English word.
 */
export function vocabulary(size: number, seed = 1): string[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const words = new Set(COMMON);
  while (words.size < size) {
    const syllables = 2 + Math.floor(next() * 3);
    let word = '';
    for (let i = 0; i < syllables; i++) word += pick(ONSETS) + pick(VOWELS);
    words.add(word + pick(CODAS));
  }
  return [...words].slice(0, size);
}

/** Zipf (s = 1) ranks in [0, size): P(rank k) ∝ 1 / (k + 1). */
export function zipf(size: number, next: () => number): () => number {
  const scale = Math.log(size + 1);
  return () => Math.min(size - 1, Math.floor(Math.exp(next() * scale)) - 1);
}

export function sentence(words: readonly string[], next: () => number, rank = zipf(words.length, next)): string {
  const length = 6 + Math.floor(next() * 9);
  const parts: string[] = [];
  for (let i = 0; i < length; i++) parts.push(words[rank()]!);
  parts[0] = parts[0]![0]!.toUpperCase() + parts[0]!.slice(1);
  return `${parts.join(' ')}.`;
}

export function sentences(words: readonly string[], count: number, seed: number): string[] {
  const next = random(seed);
  const rank = zipf(words.length, next);
  return Array.from({ length: count }, () => sentence(words, next, rank));
}

/** A text of about `bytes` bytes: paragraphs of sentences, with Markdown headings if asked. */
export function textDocument(words: readonly string[], bytes: number, seed: number, markdown: boolean): string {
  const next = random(seed);
  const rank = zipf(words.length, next);
  const out: string[] = [];
  let size = 0;
  for (let section = 1; size < bytes; section++) {
    if (markdown) out.push(`${section === 1 ? '#' : '##'} ${sentence(words, next, rank).slice(0, -1)}\n`);
    for (let p = 0; p < 3 + Math.floor(next() * 3) && size < bytes; p++) {
      const paragraph = Array.from({ length: 4 + Math.floor(next() * 5) }, () => sentence(words, next, rank)).join(' ');
      out.push(`${paragraph}\n`);
      size += paragraph.length + 1;
    }
  }
  return out.join('\n');
}

/** A valid PDF 1.4 with one page of Helvetica text per entry of `pages`. */
export function pdfDocument(pages: readonly string[][]): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body) + 2; // object numbers start at 3 (1 catalog, 2 pages)
  const font = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  const kids: number[] = [];
  for (const lines of pages) {
    const escaped = lines.map((line) => `(${line.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj T*`).join('\n');
    const stream = `BT /F1 10 Tf 12 TL 50 780 Td\n${escaped}\nET`;
    const content = add(`<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`);
    kids.push(add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${content} 0 R >>`));
  }
  const all = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`, ...objects];
  let pdf = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  all.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  pdf += `xref\n0 ${all.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${all.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** A PDF of `pageCount` pages, each ~60 lines of text. */
export function pdfOfPages(words: readonly string[], pageCount: number, seed: number): Buffer {
  const next = random(seed);
  const rank = zipf(words.length, next);
  const pages = Array.from({ length: pageCount }, () => {
    const lines: string[] = [];
    let line = '';
    while (lines.length < 60) {
      const word = words[rank()]!;
      if (line.length + word.length + 1 > 95) {
        lines.push(line);
        line = '';
      }
      line = line ? `${line} ${word}` : word;
    }
    return lines;
  });
  return pdfDocument(pages);
}

/** Where the words people search for sit in the ranking. */
const QUERY_CLASSES: { weight: number; from: number; to: number }[] = [
  // Common content words (found in a large share of all chunks).
  { weight: 0.3, from: 40, to: 140 },
  // The middle of the ranking.
  { weight: 0.4, from: 140, to: 3000 },
  // Rare words: a few hundred chunks in the whole corpus, often none in a scope.
  { weight: 0.3, from: 3000, to: Number.POSITIVE_INFINITY },
];

/** Search queries of 1 to 3 words: some common, some rare; never only stop words. */
export function queries(words: readonly string[], count: number, seed: number): string[] {
  const next = random(seed);
  const word = () => {
    let roll = next();
    const kind = QUERY_CLASSES.find((c) => (roll -= c.weight) < 0) ?? QUERY_CLASSES.at(-1)!;
    const to = Math.min(kind.to, words.length);
    return words[kind.from + Math.floor(next() * (to - kind.from))]!;
  };
  return Array.from({ length: count }, () => {
    const length = 1 + Math.floor(next() * 3);
    return Array.from({ length }, word).join(' ');
  });
}
