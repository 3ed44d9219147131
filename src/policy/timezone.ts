import { ConfigError } from "../errors.ts";

/**
 * Time zones are IANA names checked by the platform's Intl data, so whatever the
 * runtime can format, we accept; anything else fails at config time rather than on
 * the first cron slot. Formatters are costly to build (~tens of µs), so one is kept
 * per zone and reused by every agent in it.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let formatter = formatters.get(tz);
  if (formatter === undefined) {
    // Throws RangeError for an unknown zone; only valid zones are cached.
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      hour: "2-digit",
      minute: "2-digit",
    });
    formatters.set(tz, formatter);
  }
  return formatter;
}

/** Returns `tz` unchanged (not canonicalised: ICU may rename e.g. Asia/Kolkata). */
export function assertTimezone(tz: string, field: string): string {
  if (typeof tz !== "string" || tz.trim() === "") {
    throw new ConfigError(field, `expected an IANA time zone name (e.g. "Europe/Berlin"), got ${JSON.stringify(tz)}`);
  }
  try {
    formatterFor(tz);
  } catch {
    throw new ConfigError(field, `unknown time zone "${tz}"`);
  }
  return tz;
}

/** Local minute of the day (0..1439) at `wall` in `tz`; undefined = the host's zone. */
export function minuteOfDay(wall: number, tz: string | undefined): number {
  if (tz === undefined) {
    // The host zone is read at call time (a process may change TZ), never cached.
    const date = new Date(wall);
    return date.getHours() * 60 + date.getMinutes();
  }
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(tz).formatToParts(wall)) {
    if (part.type === "hour") hour = Number(part.value);
    else if (part.type === "minute") minute = Number(part.value);
  }
  // h23 should never print "24", but older ICU builds did for midnight.
  return (hour % 24) * 60 + minute;
}
