/**
 * Nesting depth of JSON (`JSON_MAX_DEPTH`, 32 by default) for REST bodies, as text before they are
 * parsed, and for Socket.IO payloads, which arrive parsed. `[]` is depth 1.
 */

/**
 * Whether a parsed JSON value nests arrays and objects deeper than maxDepth (`[]` is depth 1).
 * Iterative, so a hostile payload of tens of thousands of levels cannot overflow the stack here.
 */
export function valueNestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: { node: object; depth: number }[] = [];
  if (value !== null && typeof value === 'object') pending.push({ node: value, depth: 1 });
  while (pending.length) {
    const { node, depth } = pending.pop()!;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') pending.push({ node: child as object, depth: depth + 1 });
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, found by one pass over the
 * bytes (UTF-8 never puts these ASCII bytes inside a multi-byte character), for a body checked
 * before parsing because every later step (poisoning scan, class-transformer, validation)
 * recurses once per level. Malformed text is left to the parser to reject.
 */
export function textNestsDeeperThan(body: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}
