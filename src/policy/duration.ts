import { ConfigError } from "../errors.ts";
import { DAY, HOUR, MINUTE, SECOND } from "./time.ts";

/**
 * Durations in config: a number is milliseconds; a string is a number with a unit
 * ("90s", "30m", "1.5h", "1d", "250ms"), or several such parts ("1h30m", so that
 * whatever `formatDuration` prints can be read back). A bare numeric string means
 * minutes, because cadences are written in minutes far more often than in ms.
 * The result is always a whole, non-negative, safe-integer number of milliseconds;
 * 0 is valid and callers read it as "disabled".
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
};

const NUMBER = String.raw`(?:\d+(?:\.\d+)?|\.\d+)`;
/** One `<number><unit>` part; `ms` must precede `m` in the alternation. */
const PART = new RegExp(String.raw`(${NUMBER})\s*(ms|s|m|h|d)`, "y");
const BARE = new RegExp(String.raw`^${NUMBER}$`);
const NEGATIVE = new RegExp(String.raw`^-\s*${NUMBER}`);

const EXAMPLES = `(use e.g. "90s", "30m", "1.5h")`;

export function parseDuration(value: unknown, field: string): number {
  if (typeof value === "number") return fromNumber(value, field);
  if (typeof value !== "string") {
    throw new ConfigError(field, `expected a duration string or a number of milliseconds, got ${typeName(value)}`);
  }
  const text = value.trim();
  if (text === "") throw new ConfigError(field, `empty duration ${EXAMPLES}`);
  if (NEGATIVE.test(text)) throw new ConfigError(field, `"${value}" is negative; a duration must be >= 0`);
  if (BARE.test(text)) return checked(Number(text) * MINUTE, value, field);

  // Walk the parts with a sticky regex so that any stray character is rejected.
  let total = 0;
  let at = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const match = PART.exec(text);
    if (match === null) throw new ConfigError(field, `"${value}" is not a duration ${EXAMPLES}`);
    const [whole, amount = "", unit = ""] = match;
    total += Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
    at += whole.length;
    while (text[at] === " ") at++;
  }
  return checked(total, value, field);
}

function fromNumber(value: number, field: string): number {
  if (!Number.isFinite(value)) throw new ConfigError(field, `expected a finite number of milliseconds, got ${value}`);
  if (value < 0) throw new ConfigError(field, `${value} is negative; a duration must be >= 0`);
  return checked(value, value, field);
}

/** Rounds to whole ms (timers have ms resolution) and refuses values past 2^53. */
function checked(ms: number, original: unknown, field: string): number {
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) {
    const shown = typeof original === "string" ? `"${original}"` : String(original);
    throw new ConfigError(field, `${shown} is too large for a duration`);
  }
  return rounded === 0 ? 0 : rounded; // never -0
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", DAY],
  ["h", HOUR],
  ["m", MINUTE],
  ["s", SECOND],
  ["ms", 1],
];

/** Compact human form for logs and docs: 5400000 → "1h30m", 250 → "250ms", 0 → "0ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0ms";
  let out = ms < 0 ? "-" : "";
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
