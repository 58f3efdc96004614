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
  if (!tokens.length) throw new CalculatorError('Empty expression');
  const value = new Parser(tokens).parse();
  if (!Number.isFinite(value)) throw new CalculatorError('The result is not a finite number');
  return value;
}

/** One rule per precedence level, from the loosest (+ -) to the tightest (numbers, parentheses, calls). */
class Parser {
  private position = 0;
  private depth = 0;

  constructor(private readonly tokens: string[]) {}

  parse(): number {
    const value = this.expression();
    if (this.position < this.tokens.length) throw new CalculatorError(`Unexpected "${this.tokens[this.position]}"`);
    return value;
  }

  private peek(): string | undefined {
    return this.tokens[this.position];
  }

  private next(): string | undefined {
    return this.tokens[this.position++];
  }

  private expect(token: string): void {
    if (this.next() !== token) throw new CalculatorError(`Expected "${token}"`);
  }

  private expression(): number {
    let value = this.term();
    while (this.peek() === '+' || this.peek() === '-') value = this.next() === '+' ? value + this.term() : value - this.term();
    return value;
  }

  private term(): number {
    let value = this.unary();
    while (this.peek() === '*' || this.peek() === '/' || this.peek() === '%') {
      const operator = this.next();
      const right = this.unary();
      if ((operator === '/' || operator === '%') && right === 0) throw new CalculatorError('Division by zero');
      value = operator === '*' ? value * right : operator === '/' ? value / right : value % right;
    }
    return value;
  }

  /** Signs bind looser than powers (-3^2 = -9). */
  private unary(): number {
    if (this.peek() === '-' || this.peek() === '+') return this.next() === '-' ? -this.unary() : this.unary();
    return this.power();
  }

  /** Right-associative: 2^3^2 = 2^(3^2); the exponent may carry a sign (2^-1). */
  private power(): number {
    const base = this.primary();
    if (this.peek() === '^' || this.peek() === '**') {
      this.next();
      return base ** this.unary();
    }
    return base;
  }

  private primary(): number {
    if (++this.depth > MAX_DEPTH) throw new CalculatorError('Expression nested too deeply');
    try {
      const token = this.next();
      if (token === undefined) throw new CalculatorError('Unexpected end of expression');
      if (/^(\d|\.\d)/.test(token)) return Number(token);
      if (token === '(') {
        const value = this.expression();
        this.expect(')');
        return value;
      }
      const name = token.toLowerCase();
      if (name in CONSTANTS) return CONSTANTS[name]!;
      const fn = FUNCTIONS[name];
      if (fn) return fn(...this.arguments());
      throw new CalculatorError(`Unexpected "${token}"`);
    } finally {
      this.depth--;
    }
  }

  /** A function's parenthesised, comma-separated arguments. */
  private arguments(): number[] {
    this.expect('(');
    const args = [this.expression()];
    while (this.peek() === ',') {
      this.next();
      args.push(this.expression());
    }
    this.expect(')');
    return args;
  }
}

/** Rounds away binary noise (0.1 + 0.2 → 0.3) for display. */
export function formatNumber(value: number): string {
  return String(Number.parseFloat(value.toPrecision(12)));
}
