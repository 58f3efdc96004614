/**
 * A small arithmetic parser (recursive descent) for the calculator tool. It never evaluates code:
 * numbers, + - * / % ^, parentheses, unary signs, a few functions and constants.
 */
const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  sqrt: Math.sqrt,
  abs: Math.abs,
  round: Math.round,
  floor: Math.floor,
  ceil: Math.ceil,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  ln: Math.log,
  log: Math.log10,
  exp: Math.exp,
  min: Math.min,
  max: Math.max,
};
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };
export const MAX_LENGTH = 500;
export const MAX_DEPTH = 100;

export class CalculatorError extends Error {}

export function calculate(expression: string): number {
  if (expression.length > MAX_LENGTH) throw new CalculatorError(`Expression longer than ${MAX_LENGTH} characters`);
  const tokens = expression.match(/\d+(?:\.\d+)?(?:e[+-]?\d+)?|\.\d+|[a-z_]+|\*\*|[-+*/%^(),]|\S/gi) ?? [];
  let position = 0;
  let depth = 0;
  const peek = () => tokens[position];
  const next = () => tokens[position++];
  const expect = (token: string) => {
    if (next() !== token) throw new CalculatorError(`Expected "${token}"`);
  };

  const expressionRule = (): number => {
    let value = term();
    while (peek() === '+' || peek() === '-') value = next() === '+' ? value + term() : value - term();
    return value;
  };
  const term = (): number => {
    let value = unary();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const operator = next();
      const right = unary();
      if ((operator === '/' || operator === '%') && right === 0) throw new CalculatorError('Division by zero');
      value = operator === '*' ? value * right : operator === '/' ? value / right : value % right;
    }
    return value;
  };
  // Signs bind looser than powers (-3^2 = -9).
  const unary = (): number => {
    if (peek() === '-' || peek() === '+') return next() === '-' ? -unary() : unary();
    return power();
  };
  // Right-associative: 2^3^2 = 2^(3^2); the exponent may carry a sign (2^-1).
  const power = (): number => {
    const base = primary();
    if (peek() === '^' || peek() === '**') {
      next();
      return base ** unary();
    }
    return base;
  };
  const primary = (): number => {
    if (++depth > MAX_DEPTH) throw new CalculatorError('Expression nested too deeply');
    try {
      const token = next();
      if (token === undefined) throw new CalculatorError('Unexpected end of expression');
      if (/^(\d|\.\d)/.test(token)) return Number(token);
      if (token === '(') {
        const value = expressionRule();
        expect(')');
        return value;
      }
      const name = token.toLowerCase();
      if (name in CONSTANTS) return CONSTANTS[name]!;
      const fn = FUNCTIONS[name];
      if (fn) {
        expect('(');
        const args = [expressionRule()];
        while (peek() === ',') {
          next();
          args.push(expressionRule());
        }
        expect(')');
        return fn(...args);
      }
      throw new CalculatorError(`Unexpected "${token}"`);
    } finally {
      depth--;
    }
  };

  if (!tokens.length) throw new CalculatorError('Empty expression');
  const value = expressionRule();
  if (position < tokens.length) throw new CalculatorError(`Unexpected "${tokens[position]}"`);
  if (!Number.isFinite(value)) throw new CalculatorError('The result is not a finite number');
  return value;
}

/** Rounds away binary noise (0.1 + 0.2 → 0.3) for display. */
export function formatNumber(value: number): string {
  return String(Number.parseFloat(value.toPrecision(12)));
}
