import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompiledSchema, compileRemoteInputSchema, MAX_PATTERN_LENGTH } from './json-schema.js';

const compile = async (schema: unknown) => compileRemoteInputSchema(schema);
const withPattern = (pattern: string) => ({ type: 'object', properties: { name: { type: 'string', pattern } } });

describe('compileRemoteInputSchema', () => {
  it('refuses a pattern with catastrophic backtracking before any input is checked against it', async () => {
    await expect(compile(withPattern('^(a+)+$'))).rejects.toThrow('pattern "^(a+)+$" is refused');
    await expect(compile(withPattern('^(a|a)*$'))).rejects.toThrow(/is refused/);
  });

  it('refuses unsafe patterns wherever ajv would compile them: patternProperties keys, nested, in $defs', async () => {
    await expect(compile({ type: 'object', patternProperties: { '^(x+x+)+y$': { type: 'string' } } })).rejects.toThrow(/is refused/);
    await expect(compile({ type: 'object', propertyNames: { pattern: '(a*)*b' } })).rejects.toThrow(/is refused/);
    await expect(
      compile({ type: 'object', properties: { a: { $ref: '#/$defs/evil' } }, $defs: { evil: { type: 'string', pattern: '^(\\w+\\s?)*$' } } }),
    ).rejects.toThrow(/is refused/);
  });

  it('refuses a pattern that is only slow on long input (quadratic) and one longer than the limit', async () => {
    await expect(compile(withPattern('.*foo.*'))).rejects.toThrow(/is refused/);
    await expect(compile(withPattern(`^${'a'.repeat(MAX_PATTERN_LENGTH)}$`))).rejects.toThrow(/longer than/);
  });

  it('keeps ordinary patterns working', async () => {
    const schema = await compile({
      type: 'object',
      properties: { code: { type: 'string', pattern: '^[A-Z]{2,3}-\\d+$' }, email: { type: 'string', pattern: '^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$' } },
      patternProperties: { '^x-[a-z]+$': { type: 'number' } },
    });
    expect(() => schema.check('t', { code: 'AB-12', email: 'ada@example.org', 'x-size': 3 })).not.toThrow();
    expect(() => schema.check('t', { code: 'ab-12' })).toThrow(/Invalid arguments for t: \/code: must match pattern/);
    expect(() => schema.check('t', { 'x-size': 'big' })).toThrow(/must be number/);
  });

  it('answers in bounded time for any input against any schema it accepted', async () => {
    const patterns = ['^(a+)+$', '^(a|aa)+$', '(a*)*b', '^[a-z]+(-[a-z]+)*$', '^\\d+(\\.\\d+)*$', '^(\\w+\\s?)*$'];
    const accepted: CompiledSchema[] = [];
    for (const pattern of patterns) {
      try {
        accepted.push(await compile(withPattern(pattern)));
      } catch {
        // refused: nothing ever runs it
      }
    }
    expect(accepted.length).toBe(2);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '-', '.', '1', ' ', '!'), maxLength: 5000 }), (name) => {
        const started = performance.now();
        for (const schema of accepted) {
          try {
            schema.check('t', { name });
          } catch {
            // not matching is fine: only the time matters
          }
        }
        expect(performance.now() - started).toBeLessThan(200);
      }),
      { numRuns: 200 },
    );
  });
});
