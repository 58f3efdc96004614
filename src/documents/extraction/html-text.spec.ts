import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntities, htmlSections } from './html-text.js';

const SECRET = 'zqxsecret';
const textOf = (html: string) =>
  htmlSections(html)
    .sections.map((section) => section.text)
    .join('\n')
    .trim();

/** Text with the characters markup is made of, never the secret. */
const loose = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '<', '>', '/', '"', "'", '=', '&', ';', '#', '!', '-', '\n', 'é'), maxLength: 30 });
const word = fc.stringMatching(/^[a-y]{1,8}$/);
const attribute = fc.tuple(fc.constantFrom('class', 'title', 'data-x'), loose).map(([name, value]) => ` ${name}="${value.replaceAll('"', '&quot;')}"`);
/** Content that cannot end its element (no `</`), with the secret in it. */
const hidden = loose.map((text) => `${text.replaceAll('</', '< /')}${SECRET}`);

interface Fragment {
  html: string;
  /** The words a reader sees. */
  words: string[];
}

const hiddenFragment = (html: string): Fragment => ({ html, words: [] });

/** Well-formed fragments of documents: text, elements, comments, and script-like elements hiding the secret. */
const fragment: fc.Arbitrary<Fragment> = fc.letrec<{ node: Fragment }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    word.map((text) => ({ html: ` ${text} `, words: [text] })),
    fc.constantFrom('&amp;', '&lt;', '&#233;', '&#x1F600;', '&nbsp;', ' < ', ' > ').map(hiddenFragment),
    fc
      .tuple(fc.constantFrom('script', 'style', 'noscript', 'template', 'SCRIPT', 'Style'), fc.array(attribute, { maxLength: 2 }), hidden)
      .map(([name, attributes, content]) => hiddenFragment(`<${name}${attributes.join('')}>${content}</${name}>`)),
    hidden.map((content) => hiddenFragment(`<!--${content.replaceAll('-->', '- ->')}-->`)),
    fc
      .tuple(fc.constantFrom('p', 'div', 'span', 'h1', 'h3', 'li', 'b', 'td'), fc.array(attribute, { maxLength: 2 }), fc.array(tie('node'), { maxLength: 4 }))
      .map(([name, attributes, children]) => ({
        html: `<${name}${attributes.join('')}>${children.map((child) => child.html).join('')}</${name}>`,
        words: children.flatMap((child) => child.words),
      })),
  ),
})).node;

describe('htmlSections', () => {
  it('never throws, on anything, and never makes up text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (html) => {
        const { sections } = htmlSections(html);
        // Decoding only shortens (a reference is longer than its character, but for a few in the astral planes).
        expect(sections.reduce((sum, section) => sum + section.text.replace(/\s/g, '').length, 0)).toBeLessThanOrEqual(html.length);
      }),
    );
  });

  it('never lets the content of script, style, noscript, template or comments through, and keeps every word', () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 8 }), (fragments) => {
        const text = textOf(`<!DOCTYPE html><html><body>${fragments.map((f) => f.html).join('')}</body></html>`);
        expect(text).not.toContain(SECRET);
        expect(text.match(/[a-z]+/g) ?? []).toEqual(fragments.flatMap((f) => f.words));
      }),
    );
  });

  it('makes a section per heading, with the heading kept in its text', () => {
    const { sections } = htmlSections(
      '<html><head><title>Guide</title><style>h1 { color: red }</style></head><body><p>Before any heading.</p>' +
        '<h1 class="big">Tides &amp; <em>Currents</em></h1><p>The harbour floods.</p><div>Twice a day.</div>' +
        '<h2>Locks</h2><script>var secret = "</p>";</script><p>Gates close early.</p></body></html>',
    );
    expect(sections.map(({ heading, text }) => ({ heading, lines: text.split('\n').map((line) => line.trim()).filter(Boolean) }))).toEqual([
      { heading: undefined, lines: ['Guide', 'Before any heading.'] },
      { heading: 'Tides & Currents', lines: ['Tides & Currents', 'The harbour floods.', 'Twice a day.'] },
      { heading: 'Locks', lines: ['Locks', 'Gates close early.'] },
    ]);
  });

  it('reads markup as browsers do where it is broken', () => {
    expect(textOf('a < b and c > d')).toBe('a < b and c > d');
    expect(textOf('<p title="x > y">kept</p>')).toBe('kept');
    // A stray quote outside an attribute value does not swallow the document.
    expect(textOf('<p class=x">kept</p>')).toBe('kept');
    expect(textOf('before<script>alert(1)')).toBe('before');
    expect(textOf('before<!-- never closed <p>hidden')).toBe('before');
    expect(textOf('before<p unterminated')).toBe('before');
    expect(textOf('<script>if (a</script) x = "</scripts>";</script>after')).toBe('after');
  });

  it('decodes character references, and leaves unknown ones as they are', () => {
    expect(decodeEntities('&lt;b&gt; &amp;amp; &#233;&#xE9;&#233 &eacute; &bogus; &#0; &#xD800; &#x110000;')).toBe('<b> &amp; ééé é &bogus; \uFFFD \uFFFD \uFFFD');
  });

  it('stops at maxChars and says so', () => {
    const result = htmlSections(`<p>${'word '.repeat(1000)}</p><h1>Late</h1><p>never read</p>`, 100);
    expect(result.truncated).toBe(true);
    expect(result.sections.map((section) => section.text).join('').length).toBeLessThanOrEqual(101);
    expect(htmlSections('<p>short</p>', 100).truncated).toBe(false);
  });

  it('takes linear time on crafted markup', () => {
    const n = 100_000;
    const crafted = [
      '<a'.repeat(n),
      '<a '.repeat(n),
      '<a b="'.repeat(n),
      '<a b=\''.repeat(n),
      '<!--'.repeat(n),
      '<!'.repeat(n),
      '</'.repeat(n),
      '<script>'.repeat(n),
      '<script></scrip'.repeat(n),
      '<h1>'.repeat(n),
      '<p>'.repeat(n),
      '&#'.repeat(n) + '&amp'.repeat(n),
      '<<<<'.repeat(n),
      `<div ${'a=b '.repeat(n)}`,
    ];
    for (const html of crafted) {
      const started = performance.now();
      htmlSections(html);
      expect(performance.now() - started, html.slice(0, 20)).toBeLessThan(2000);
    }
  });
});
