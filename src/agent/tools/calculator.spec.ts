import { describe, expect, it } from 'vitest';
import { CalculatorError, calculate, formatNumber } from './calculator.js';

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
