/**
 * Stable per-agent phase: agents started together must not all fire together (a
 * thundering herd on the host), and an agent's first run must never be at start
 * itself. The offset depends only on the id, so it is the same across restarts
 * and processes.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * FNV-1a alone spreads ids that differ only in their last character ("agent-1",
 * "agent-2") poorly over the high bits; a final avalanche (murmur3's fmix32) makes
 * every input bit reach every output bit.
 */
function avalanche(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A deterministic number in [0, 1) for an id (and optional salt, for independent draws). */
export function stableFraction(agentId: string, salt?: string): number {
  const key = salt === undefined ? agentId : `${salt}\u0000${agentId}`;
  return avalanche(fnv1a32(key)) / 2 ** 32;
}

/**
 * Delay of an agent's first interval slot after start: an integer in [1, everyMs],
 * so never 0 (never at start) and never later than one full cadence.
 */
export function phaseOffset(agentId: string, everyMs: number): number {
  if (!(everyMs >= 1) || !Number.isFinite(everyMs)) {
    throw new RangeError(`phaseOffset: everyMs must be a finite number >= 1, got ${everyMs}`);
  }
  const span = Math.floor(everyMs);
  // floor(fraction * span) is in [0, span - 1]; shifting by one excludes start itself.
  return Math.min(span, Math.floor(stableFraction(agentId) * span) + 1);
}
