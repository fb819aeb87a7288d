/**
 * Runs `fn` over items with at most `limit` calls in flight, and resolves when all are done.
 * For file work that waits on libuv's thread pool: one after the other, every call pays the
 * pool's round trip; a few at once overlap them. Items must be independent of each other.
 */
export async function eachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
