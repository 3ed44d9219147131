import { ConfigError } from "../errors.ts";
import { cronPattern, nextCronSlot } from "./cron.ts";
import { assertTimezone, minuteOfDay } from "./timezone.ts";
import type { ActiveHours } from "./types.ts";

/**
 * Active hours: a daily window [start, end) in local wall time. Outside it a due
 * slot is skipped as `quiet-hours` and the agent waits for the next opening.
 * Windows are whole minutes, so the local minute of the day decides membership.
 */

const MINUTES_PER_DAY = 24 * 60;
const KEYS = new Set(["start", "end", "timezone"]);
const TIME = /^(\d{2}):(\d{2})$/;

export function parseActiveHours(input: unknown, field: string): ActiveHours {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError(field, `expected an object { start: "HH:MM", end: "HH:MM", timezone? }, got ${typeName(input)}`);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.has(key)) throw new ConfigError(`${field}.${key}`, "unknown key");
  }
  const startMinute = parseTime(record["start"], `${field}.start`, false);
  const endMinute = parseTime(record["end"], `${field}.end`, true);
  const tz = record["timezone"];
  let timezone: string | undefined;
  if (tz !== undefined) {
    if (typeof tz !== "string") throw new ConfigError(`${field}.timezone`, `expected a string, got ${typeName(tz)}`);
    timezone = assertTimezone(tz, `${field}.timezone`);
  }
  return { startMinute, endMinute, timezone };
}

/** "HH:MM" → minute of the day; "24:00" only as an end (through midnight). */
function parseTime(value: unknown, field: string, isEnd: boolean): number {
  if (value === undefined) throw new ConfigError(field, "required");
  if (typeof value !== "string") throw new ConfigError(field, `expected a string "HH:MM", got ${typeName(value)}`);
  const range = isEnd ? "00:00 to 24:00" : "00:00 to 23:59";
  const match = TIME.exec(value.trim());
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (match === null || minutes > 59 || hours > 24) {
    throw new ConfigError(field, `"${value}" is not a time of day (use "HH:MM", ${range})`);
  }
  if (hours === 24) {
    if (!isEnd) throw new ConfigError(field, `"${value}" is only valid as an end time; a start must be 00:00 to 23:59`);
    if (minutes !== 0) throw new ConfigError(field, `"${value}" is past the end of the day (use "HH:MM", ${range})`);
  }
  return hours * 60 + minutes;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function zoneOf(ah: ActiveHours, fallbackTz: string | undefined): string | undefined {
  return ah.timezone ?? fallbackTz;
}

export function isWithinActiveHours(ah: ActiveHours, wall: number, fallbackTz: string | undefined): boolean {
  const { startMinute: start, endMinute: end } = ah;
  // An empty window is a config choice ("never"), not "always": it is never active.
  if (start === end) return false;
  const minute = minuteOfDay(wall, zoneOf(ah, fallbackTz));
  if (start < end) return minute >= start && minute < end; // end 1440 covers 23:59
  return minute >= start || minute < end; // overnight, e.g. 22:00–06:00
}

/**
 * Wall ms of the next opening strictly after `wall` (tomorrow's when inside the
 * window now). Local-time arithmetic is left to croner's daily pattern, which is
 * DST-correct: a start skipped by spring-forward opens when the clock resumes that
 * day, and a start repeated by fall-back opens once, at its first occurrence.
 */
export function nextWindowOpening(ah: ActiveHours, wall: number, fallbackTz: string | undefined): number | undefined {
  if (ah.startMinute === ah.endMinute) return undefined;
  const start = ah.startMinute % MINUTES_PER_DAY;
  const expression = `${start % 60} ${Math.floor(start / 60)} * * *`;
  return nextCronSlot(cronPattern(expression, zoneOf(ah, fallbackTz), "activeHours"), wall);
}
