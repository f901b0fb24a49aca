import { describe, expect, it } from 'vitest';
import { ReservationBook } from './reservations';

describe('ReservationBook (reservations kept until the log phase)', () => {
  it('a claimed id is a duplicate until it is settled, released or expired', () => {
    const book = new ReservationBook();
    expect(book.claim('a', 60_000, 1000)).toBe(true);
    expect(book.claim('a', 60_000, 1001)).toBe(false); // in flight
    book.confirm('a', { at: 999, tokens: 900 });
    expect(book.claim('a', 60_000, 1002)).toBe(false); // reserved
    expect(book.take('a', 1003)).toEqual({ at: 999, tokens: 900 });
    expect(book.take('a', 1004)).toBeUndefined(); // settled once
    expect(book.claim('a', 60_000, 1005)).toBe(true);
    book.release('a'); // refused: nothing to settle
    expect(book.take('a', 1006)).toBeUndefined();
  });

  it('an unsettled reservation never outlives its lifetime', () => {
    const book = new ReservationBook();
    book.claim('a', 60_000, 0);
    book.confirm('a', { at: 0, tokens: 5 });
    expect(book.claim('a', 60_000, 59_999)).toBe(false);
    expect(book.take('a', 60_000)).toBeUndefined();
    expect(book.claim('b', 60_000, 0)).toBe(true);
    expect(book.claim('b', 60_000, 60_000)).toBe(true); // expired: the id is free again
  });

  it('stays bounded when log phases never come: oldest entries go first', () => {
    const book = new ReservationBook(100);
    for (let i = 0; i < 1000; i++) {
      book.claim(`k${i}`, 3_600_000, i);
      book.confirm(`k${i}`, { at: i, tokens: 1 });
    }
    expect(book.size()).toBeLessThanOrEqual(100);
    expect(book.take('k0', 1000)).toBeUndefined();
    expect(book.take('k999', 1000)).toEqual({ at: 999, tokens: 1 });
  });

  it('sweeps expired entries as it goes', () => {
    const book = new ReservationBook();
    for (let i = 0; i < 5000; i++) book.claim(`k${i}`, 10, i); // each lives 10 ms
    expect(book.size()).toBeLessThan(1100);
  });
});
