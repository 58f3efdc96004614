import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isToolSelected, TOOL_SELECTION_ENTRY } from './tool-selection.js';

fc.configureGlobal({ seed: 20_261_201 });

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const nameArbitrary = fc.stringMatching(NAME);

describe('tool selection', () => {
  it.each([
    ['calculator', true],
    ['github__*', true],
    ['workflow__deploy', true],
    ['my-server__get-sum', true],
    ['*', false],
    ['github*', false],
    ['github_*', false],
    ['github__*x', false],
    ['github__**', false],
    ['git hub', false],
    ['', false],
    ['naïve', false],
  ])('reads %j as an entry: %s', (entry, valid) => {
    expect(TOOL_SELECTION_ENTRY.test(entry)).toBe(valid);
  });

  it('lets everything through when nothing was chosen (null), nothing through for []', () => {
    fc.assert(
      fc.property(nameArbitrary, (name) => {
        expect(isToolSelected(name, null)).toBe(true);
        expect(isToolSelected(name, [])).toBe(false);
      }),
    );
  });

  it('matches an exact name only as a whole', () => {
    expect(isToolSelected('calculator', ['calculator'])).toBe(true);
    expect(isToolSelected('calculator2', ['calculator'])).toBe(false);
    expect(isToolSelected('calc', ['calculator'])).toBe(false);
  });

  it('matches a whole source by its prefix and separator, never a source whose name merely starts the same', () => {
    expect(isToolSelected('github__issues', ['github__*'])).toBe(true);
    expect(isToolSelected('githubby__issues', ['github__*'])).toBe(false);
    expect(isToolSelected('github', ['github__*'])).toBe(false);
  });

  it('selects a tool exactly when one entry names it or its source', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(nameArbitrary, nameArbitrary.map((prefix) => `${prefix}__*`)), { maxLength: 20 }), nameArbitrary, (selection, name) => {
        const expected = selection.some((entry) => entry === name || (entry.endsWith('__*') && name.startsWith(entry.slice(0, -1))));
        expect(isToolSelected(name, selection)).toBe(expected);
      }),
    );
  });

  it('accepts every generated name and source prefix as an entry', () => {
    fc.assert(
      fc.property(nameArbitrary, (name) => {
        expect(TOOL_SELECTION_ENTRY.test(name)).toBe(true);
        expect(TOOL_SELECTION_ENTRY.test(`${name}__*`)).toBe(true);
      }),
    );
  });
});
