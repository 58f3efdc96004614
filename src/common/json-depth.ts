/**
 * Whether a parsed JSON value nests arrays and objects deeper than maxDepth (`[]` is depth 1).
 * Iterative, so a hostile payload of tens of thousands of levels cannot overflow the stack here.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
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
