/** Fire `n` calls at once; count the answers by HTTP status (`{200: 100, 429: 400}`). */
export async function statusCounts(n: number, one: (i: number) => Promise<number | { status: number }>): Promise<Record<number, number>> {
  const all = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const counts: Record<number, number> = {};
  for (const r of all) {
    const s = typeof r === 'number' ? r : r.status;
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return counts;
}
