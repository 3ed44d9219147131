/**
 * Restart intensity (Erlang/OTP style): at most `maxRestarts` within `windowMs`.
 * Returns the restart times still inside the window, including this one when admitted.
 */
export function admitRestart(
  previous: readonly number[],
  nowMono: number,
  limit: { readonly maxRestarts: number; readonly windowMs: number },
): { ok: boolean; recent: number[] } {
  const recent = previous.filter((t) => nowMono - t < limit.windowMs);
  if (recent.length >= limit.maxRestarts) return { ok: false, recent };
  return { ok: true, recent: [...recent, nowMono] };
}
