/**
 * Calendar periods (day, month) in a tenant's IANA timezone, and the minute window, computed in
 * Node with Intl and handed to Redis scripts as period ids and end timestamps.
 *
 * Pure: `now` (ms since the epoch) is always a parameter. DST-safe: a local day lasts 23, 24 or
 * 25 hours; its end is the first instant whose local date is the next day (found by asking Intl,
 * never by adding 24 h). Zones whose clocks jump over local midnight (e.g. America/Santiago,
 * Asia/Beirut historically) start the next day at the first local time after the jump.
 */

export interface Period {
  /** Stable id for keys: `2026-11-23` (day), `2026-11` (month), `m29437560` (minute). */
  id: string;
  /** First instant of the period (ms since the epoch). */
  start_ms: number;
  /** First instant of the next period (ms since the epoch); exclusive end. */
  end_ms: number;
}

export interface CalendarPeriods {
  timezone: string;
  day: Period;
  month: Period;
}

interface LocalParts {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone: callers validate zones up front (schema one_of).
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows this IANA zone. */
export function isValidTimezone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock parts of an instant in a zone. */
export function localParts(now: number, timeZone: string): LocalParts {
  const parts = formatter(timeZone).formatToParts(new Date(now));
  const out: Record<string, number> = {};
  for (const p of parts) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return { year: out.year!, month: out.month!, day: out.day!, hour: out.hour! % 24, minute: out.minute!, second: out.second! };
}

/** Offset of the zone from UTC at an instant, in ms (New York in winter: -5 h). */
export function zoneOffsetMs(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

function dateKey(y: number, m: number, d: number): number {
  return y * 10_000 + m * 100 + d;
}

function localDateKey(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  return dateKey(p.year, p.month, p.day);
}

/**
 * The first instant whose local date is on or after y-m-d (normally local midnight of that date).
 * `Date.UTC` normalises overflowing days/months (day 32 → next month).
 */
export function startOfLocalDate(year: number, month: number, day: number, timeZone: string): number {
  const naive = Date.UTC(year, month - 1, day); // that wall-clock midnight, read as UTC
  const n = new Date(naive);
  const target = dateKey(n.getUTCFullYear(), n.getUTCMonth() + 1, n.getUTCDate());
  // Two passes: the offset at the guess may differ from the offset at the answer (DST).
  let guess = naive - zoneOffsetMs(naive, timeZone);
  guess = naive - zoneOffsetMs(guess, timeZone);
  if (localDateKey(guess, timeZone) >= target) {
    // Step back while the instant before still belongs to the target date (never more than a few hours).
    if (localDateKey(guess - 1, timeZone) < target) return guess;
    let lo = guess - 6 * 3_600_000;
    let hi = guess; // invariant: date(hi) >= target, date(lo) < target
    if (localDateKey(lo, timeZone) >= target) lo = guess - 36 * 3_600_000;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (localDateKey(mid, timeZone) >= target) hi = mid;
      else lo = mid;
    }
    return hi;
  }
  // Local midnight does not exist (clocks jumped over it): first instant of the date is later.
  let lo = guess; // date(lo) < target
  let hi = guess + 6 * 3_600_000;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (localDateKey(mid, timeZone) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

// Last answer per zone: a request almost always falls in the same local day as the previous one,
// and Intl formatting costs tens of microseconds per call. Same input, same output: still pure.
const lastPeriods = new Map<string, CalendarPeriods>();

/** The local calendar day and month containing `now`, with their UTC start and end instants. */
export function calendarPeriods(now: number, timeZone: string): CalendarPeriods {
  const hit = lastPeriods.get(timeZone);
  if (hit && hit.day.start_ms <= now && now < hit.day.end_ms) return hit;
  const c = computeCalendarPeriods(now, timeZone);
  const computed: CalendarPeriods = Object.freeze({ timezone: c.timezone, day: Object.freeze(c.day), month: Object.freeze(c.month) });
  if (lastPeriods.size > 1000) lastPeriods.clear();
  lastPeriods.set(timeZone, computed);
  return computed;
}

function computeCalendarPeriods(now: number, timeZone: string): CalendarPeriods {
  const p = localParts(now, timeZone);
  const dayStart = startOfLocalDate(p.year, p.month, p.day, timeZone);
  const dayEnd = startOfLocalDate(p.year, p.month, p.day + 1, timeZone);
  const monthStart = startOfLocalDate(p.year, p.month, 1, timeZone);
  const monthEnd = startOfLocalDate(p.year, p.month + 1, 1, timeZone);
  return {
    timezone: timeZone,
    day: { id: `${p.year}-${pad2(p.month)}-${pad2(p.day)}`, start_ms: dayStart, end_ms: dayEnd },
    month: { id: `${p.year}-${pad2(p.month)}`, start_ms: monthStart, end_ms: monthEnd },
  };
}

/** The UTC minute containing `now` (timezone-independent). */
export function minutePeriod(now: number): Period {
  const start = Math.floor(now / 60_000) * 60_000;
  return { id: `m${start / 60_000}`, start_ms: start, end_ms: start + 60_000 };
}

/** Whole seconds from `now` until `end_ms`, at least 1 (for Retry-After). */
export function secondsUntil(end_ms: number, now: number): number {
  return Math.max(1, Math.ceil((end_ms - now) / 1000));
}
