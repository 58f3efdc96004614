/**
 * Proves a negative: fails with `failure()` if `holds` stops holding within `withinMs`. A bounded
 * wait by nature — nothing can be awaited for what must not happen — so keep it short and call it
 * only after something that would have broken it has been seen to take effect.
 */
export async function expectSteady(holds: () => boolean, withinMs: number, failure: () => string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(10, Math.max(1, deadline - Date.now()))));
    if (!holds()) throw new Error(failure());
  }
}
