import { describe, expect, it } from 'vitest';
import { calendarPeriods, isValidTimezone, localParts, minutePeriod, secondsUntil, startOfLocalDate } from './periods';

const iso = (ms: number) => new Date(ms).toISOString();
const H = 3_600_000;

describe('calendarPeriods', () => {
  it('UTC day and month', () => {
    const p = calendarPeriods(Date.parse('2026-11-23T23:59:59.999Z'), 'UTC');
    expect(p.day).toEqual({ id: '2026-11-23', start_ms: Date.parse('2026-11-23T00:00:00Z'), end_ms: Date.parse('2026-11-24T00:00:00Z') });
    expect(p.month.id).toBe('2026-11');
    expect(iso(p.month.end_ms)).toBe('2026-12-01T00:00:00.000Z');
    expect(calendarPeriods(Date.parse('2026-11-24T00:00:00Z'), 'UTC').day.id).toBe('2026-11-24');
  });

  it('New York: the local day, not the UTC day', () => {
    // 03:00 UTC on the 24th is 22:00 on the 23rd in New York (EST, -5).
    const p = calendarPeriods(Date.parse('2026-11-24T03:00:00Z'), 'America/New_York');
    expect(p.day.id).toBe('2026-11-23');
    expect(iso(p.day.start_ms)).toBe('2026-11-23T05:00:00.000Z');
    expect(iso(p.day.end_ms)).toBe('2026-11-24T05:00:00.000Z');
  });

  it('New York spring-forward day lasts 23 h and fall-back day 25 h', () => {
    const spring = calendarPeriods(Date.parse('2026-03-08T12:00:00Z'), 'America/New_York').day;
    expect(spring.id).toBe('2026-03-08');
    expect(iso(spring.start_ms)).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(spring.end_ms)).toBe('2026-03-09T04:00:00.000Z');
    expect(spring.end_ms - spring.start_ms).toBe(23 * H);
    const fall = calendarPeriods(Date.parse('2026-11-01T12:00:00Z'), 'America/New_York').day;
    expect(fall.end_ms - fall.start_ms).toBe(25 * H);
    expect(iso(fall.end_ms)).toBe('2026-11-02T05:00:00.000Z');
  });

  it('month across DST in New York: March starts at EST midnight, ends at EDT midnight', () => {
    const m = calendarPeriods(Date.parse('2026-03-15T12:00:00Z'), 'America/New_York').month;
    expect(m.id).toBe('2026-03');
    expect(iso(m.start_ms)).toBe('2026-03-01T05:00:00.000Z');
    expect(iso(m.end_ms)).toBe('2026-04-01T04:00:00.000Z');
  });

  it('Kolkata (+05:30): month end and year end', () => {
    const justBefore = Date.parse('2026-12-31T18:29:59Z'); // 23:59:59 local on Dec 31
    const p = calendarPeriods(justBefore, 'Asia/Kolkata');
    expect(p.day.id).toBe('2026-12-31');
    expect(p.month.id).toBe('2026-12');
    expect(iso(p.month.end_ms)).toBe('2026-12-31T18:30:00.000Z');
    const after = calendarPeriods(p.month.end_ms, 'Asia/Kolkata');
    expect(after.day.id).toBe('2027-01-01');
    expect(after.month.id).toBe('2027-01');
    expect(secondsUntil(p.day.end_ms, justBefore)).toBe(1);
  });

  it('February in a leap year', () => {
    const p = calendarPeriods(Date.parse('2028-02-29T12:00:00Z'), 'UTC');
    expect(p.day.id).toBe('2028-02-29');
    expect(iso(p.month.end_ms)).toBe('2028-03-01T00:00:00.000Z');
  });

  it('a zone whose clocks jump over midnight starts the day at the first existing local time', () => {
    // America/Santiago springs forward at 24:00 → 01:00 (first Sunday of September in 2026: 2026-09-06).
    const start = startOfLocalDate(2026, 9, 6, 'America/Santiago');
    expect(localParts(start, 'America/Santiago')).toMatchObject({ day: 6, hour: 1, minute: 0 });
    expect(localParts(start - 1000, 'America/Santiago')).toMatchObject({ day: 5 });
  });

  it('every instant of a year falls inside its own day and month, periods tile without gaps', () => {
    for (const tz of ['America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Europe/London']) {
      let t = Date.parse('2026-01-01T00:00:00Z');
      let prevDay = calendarPeriods(t, tz).day;
      for (let i = 0; i < 400; i++) {
        const p = calendarPeriods(t, tz);
        expect(p.day.start_ms).toBeLessThanOrEqual(t);
        expect(p.day.end_ms).toBeGreaterThan(t);
        expect(p.month.start_ms).toBeLessThanOrEqual(p.day.start_ms);
        expect(p.month.end_ms).toBeGreaterThanOrEqual(p.day.end_ms);
        if (p.day.id !== prevDay.id) expect(p.day.start_ms).toBe(prevDay.end_ms);
        prevDay = p.day;
        t = p.day.end_ms + 7 * H; // hop into the next day
      }
    }
  });
});

describe('minute and helpers', () => {
  it('minutePeriod', () => {
    const m = minutePeriod(Date.parse('2026-11-23T10:15:42Z'));
    expect(iso(m.start_ms)).toBe('2026-11-23T10:15:00.000Z');
    expect(m.end_ms - m.start_ms).toBe(60_000);
    expect(minutePeriod(m.end_ms).id).not.toBe(m.id);
  });
  it('isValidTimezone', () => {
    expect(isValidTimezone('Asia/Kolkata')).toBe(true);
    expect(isValidTimezone('Mars/Olympus')).toBe(false);
  });
});
