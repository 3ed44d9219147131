/**
 * Capped exponential backoff as a step function: attempt 0 waits `initialMs`, each
 * attempt doubles, never beyond `maxMs`. Pure, so it is tested as a table.
 */
export function backoffDelay(retry: { readonly initialMs: number; readonly maxMs: number }, attempt: number): number {
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 52);
  return Math.min(retry.maxMs, retry.initialMs * 2 ** exp);
}
