import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CalculatorError, calculate, formatNumber, MAX_DEPTH, MAX_LENGTH } from './calculator.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_201 });

describe('calculate', () => {
  it.each([
    ['2+2', 4],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['2^3^2', 512],
    ['2**10', 1024],
    ['-3^2', -9],
    ['10 % 4', 2],
    ['sqrt(16) + abs(-2)', 6],
    ['max(1, 7, 3)', 7],
    ['2 * pi', 2 * Math.PI],
    ['1e3 / 8', 125],
    ['.5 + .25', 0.75],
  ])('%s = %d', (expression, expected) => {
    expect(calculate(expression)).toBeCloseTo(expected, 10);
  });

  it.each(['', '2 +', '(1 + 2', '1 / 0', 'process.exit()', 'constructor', '2 2', '__proto__', "require('fs')", '9'.repeat(400) + '^' + '9'.repeat(50)])(
    'rejects %j without evaluating anything',
    (expression) => {
      expect(() => calculate(expression)).toThrow(CalculatorError);
    },
  );

  it('refuses pathological nesting and length', () => {
    expect(() => calculate('('.repeat(150) + '1' + ')'.repeat(150))).toThrow(/nested/);
    expect(() => calculate('1+'.repeat(300) + '1')).toThrow(/longer/);
  });

  it('formats results without floating-point noise', () => {
    expect(formatNumber(calculate('0.1 + 0.2'))).toBe('0.3');
  });
});

type Expression =
  | { kind: 'number'; text: string }
  | { kind: 'constant'; name: 'pi' | 'e' }
  | { kind: 'call'; name: 'sqrt' | 'abs' | 'round' | 'min' | 'max'; args: Expression[] }
  | { kind: 'negate'; operand: Expression }
  | { kind: 'power'; base: Expression; exponent: Expression }
  | { kind: 'binary'; operator: '+' | '-' | '*' | '/' | '%'; left: Expression; right: Expression };

const REFERENCE_FUNCTIONS: Record<string, (...args: number[]) => number> = { sqrt: Math.sqrt, abs: Math.abs, round: Math.round, min: Math.min, max: Math.max };

const numberText = fc.oneof(
  fc.nat(1000).map(String),
  fc.tuple(fc.nat(999), fc.nat(999)).map(([whole, fraction]) => `${whole}.${fraction}`),
  fc.nat(999).map((fraction) => `.${fraction}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -5, max: 5 })).map(([mantissa, exponent]) => `${mantissa}e${exponent}`),
);

const { expression: wellFormed } = fc.letrec<{ expression: Expression }>((tie) => ({
  expression: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    numberText.map((text) => ({ kind: 'number' as const, text })),
    fc.constantFrom('pi' as const, 'e' as const).map((name) => ({ kind: 'constant' as const, name })),
    fc.record({ kind: fc.constant('call' as const), name: fc.constantFrom('sqrt' as const, 'abs' as const, 'round' as const), args: fc.tuple(tie('expression')) }),
    fc.record({ kind: fc.constant('call' as const), name: fc.constantFrom('min' as const, 'max' as const), args: fc.array(tie('expression'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('negate' as const), operand: tie('expression') }),
    fc.record({ kind: fc.constant('power' as const), base: tie('expression'), exponent: tie('expression') }),
    fc.record({ kind: fc.constant('binary' as const), operator: fc.constantFrom('+' as const, '-' as const, '*' as const, '/' as const, '%' as const), left: tie('expression'), right: tie('expression') }),
  ),
}));

/** How tightly each form binds, following the calculator's grammar (signs looser than powers). */
function precedence(expression: Expression): number {
  switch (expression.kind) {
    case 'binary':
      return expression.operator === '+' || expression.operator === '-' ? 1 : 2;
    case 'negate':
      return 3;
    case 'power':
      return 4;
    default:
      return 5;
  }
}

/** Writes the expression with only the parentheses precedence and associativity require. */
function render(expression: Expression): string {
  const wrap = (inner: Expression, needsParentheses: boolean) => (needsParentheses ? `(${render(inner)})` : render(inner));
  switch (expression.kind) {
    case 'number':
      return expression.text;
    case 'constant':
      return expression.name;
    case 'call':
      return `${expression.name}(${expression.args.map(render).join(', ')})`;
    case 'negate':
      return `-${wrap(expression.operand, precedence(expression.operand) < 3)}`;
    case 'power':
      return `${wrap(expression.base, precedence(expression.base) < 5)}^${wrap(expression.exponent, precedence(expression.exponent) < 3)}`;
    case 'binary': {
      const own = precedence(expression);
      return `${wrap(expression.left, precedence(expression.left) < own)} ${expression.operator} ${wrap(expression.right, precedence(expression.right) <= own)}`;
    }
  }
}

function evaluate(expression: Expression): number {
  switch (expression.kind) {
    case 'number':
      return Number(expression.text);
    case 'constant':
      return expression.name === 'pi' ? Math.PI : Math.E;
    case 'call':
      return REFERENCE_FUNCTIONS[expression.name](...expression.args.map(evaluate));
    case 'negate':
      return -evaluate(expression.operand);
    case 'power':
      return evaluate(expression.base) ** evaluate(expression.exponent);
    case 'binary': {
      const left = evaluate(expression.left);
      const right = evaluate(expression.right);
      if ((expression.operator === '/' || expression.operator === '%') && right === 0) throw new CalculatorError('Division by zero');
      if (expression.operator === '+') return left + right;
      if (expression.operator === '-') return left - right;
      if (expression.operator === '*') return left * right;
      return expression.operator === '/' ? left / right : left % right;
    }
  }
}

/** The value, or the message of a CalculatorError; any other error escapes and fails the property. */
function outcome(run: () => number): number | string {
  try {
    return run();
  } catch (error) {
    if (error instanceof CalculatorError) return error.message;
    throw error;
  }
}

describe('calculate, on generated input', () => {
  const tokenSoup = fc
    .array(fc.constantFrom('1', '2.5', '.5', '1e3', '9e999', '+', '-', '*', '/', '%', '^', '**', '(', ')', ',', ' ', 'sqrt', 'max', 'pi', 'e', 'constructor', '__proto__', 'x', '0'), { maxLength: 300 })
    .map((tokens) => tokens.join(''));
  const deepNesting = fc
    .tuple(fc.array(fc.constantFrom('(', '-', '+', '2^', 'abs(', 'max(1,'), { maxLength: 250 }), fc.array(fc.constantFrom(')', '^2', '+1'), { maxLength: 250 }))
    .map(([opening, closing]) => `${opening.join('')}1${closing.join('')}`);

  it('returns a finite number or throws a CalculatorError, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), tokenSoup, deepNesting), (input) => {
        const result = outcome(() => calculate(input));
        expect(typeof result === 'string' || Number.isFinite(result)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with a reference evaluation of well-formed expressions, precedence and associativity included', () => {
    fc.assert(
      fc.property(wellFormed, (expression) => {
        const text = render(expression);
        fc.pre(text.length <= MAX_LENGTH);
        const expected = outcome(() => {
          const value = evaluate(expression);
          if (!Number.isFinite(value)) throw new CalculatorError('The result is not a finite number');
          return value;
        });
        expect(outcome(() => calculate(text))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it(`refuses any input longer than ${MAX_LENGTH} characters, and reads one of exactly that length`, () => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_LENGTH + 1, maxLength: 4 * MAX_LENGTH }), (input) => {
        expect(outcome(() => calculate(input))).toBe(`Expression longer than ${MAX_LENGTH} characters`);
      }),
    );
    expect(calculate(`1 +${' '.repeat(MAX_LENGTH - 5)} 2`)).toBe(3);
  });

  it(`evaluates nesting up to ${MAX_DEPTH} levels and refuses anything deeper`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 * MAX_DEPTH }), (levels) => {
        // The number inside the parentheses is a level of its own.
        const nested = outcome(() => calculate(`${'('.repeat(levels)}7${')'.repeat(levels)}`));
        expect(nested).toBe(levels + 1 <= MAX_DEPTH ? 7 : 'Expression nested too deeply');
      }),
    );
  });
});
