export const DEFAULT_DEADLINE_MS = 5000;

/** Polls until `check` returns something truthy (and returns it), or fails after the deadline. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<NonNullable<T>> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
