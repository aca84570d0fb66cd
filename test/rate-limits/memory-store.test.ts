// The in-memory counts of per-client limits: a minute's allowance in one burst, then one unit per interval; all checks
// of an operation or none; a key gone as soon as its window has passed, sweeping stopped once none is left; at most
// MAX_RATE_KEYS keys, the least recently used dropped first; places kept only while taken.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryPlaces, MemoryRates } from '../../src/rate-limit-store.js';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rates in memory', () => {
  it('allows a minute of units at once, then refuses with the wait until the next one', () => {
    const rates = new MemoryRates();
    const check = { key: 'token_operations:a', perMinute: 3, cost: 1 };
    for (let i = 0; i < 3; i++) expect(rates.take([check])).toBeNull();
    expect(rates.take([check])).toEqual({ index: 0, waitMs: 20_000 });
    vi.advanceTimersByTime(19_999);
    expect(rates.take([check])).toEqual({ index: 0, waitMs: 1 });
    vi.advanceTimersByTime(1);
    expect(rates.take([check])).toBeNull();
    expect(rates.take([check])).toEqual({ index: 0, waitMs: 20_000 });
    rates.close();
  });

  it('takes from every check or from none: the one that refuses is named, the others keep their allowance', () => {
    const rates = new MemoryRates();
    const token = { key: 'token_operations:a', perMinute: 10, cost: 1 };
    const address = { key: 'ip_operations:10.0.0.1', perMinute: 2, cost: 1 };
    expect(rates.take([token, address])).toBeNull();
    expect(rates.take([token, address])).toBeNull();
    expect(rates.take([token, address])).toEqual({ index: 1, waitMs: 30_000 });
    // The token was not charged for the refused operations: 8 of its 10 are left.
    for (let i = 0; i < 8; i++) expect(rates.take([token])).toBeNull();
    expect(rates.take([token])).toEqual({ index: 0, waitMs: 6_000 });
    rates.close();
  });

  it('charges a cost of several units at once, and refuses one larger than is left', () => {
    const rates = new MemoryRates();
    const calls = (cost: number) => ({ key: 'token_upstream_calls:a', perMinute: 6, cost });
    expect(rates.take([calls(4)])).toBeNull();
    expect(rates.take([calls(3)])).toEqual({ index: 0, waitMs: 10_000 });
    expect(rates.take([calls(2)])).toBeNull();
    rates.close();
  });

  it('keeps no key past its window, and stops sweeping once none is left', () => {
    const rates = new MemoryRates();
    // One unit of 60 a minute: a window of 1 s. Three units of 6 a minute: 30 s. A minute's worth: 60 s.
    for (let i = 0; i < 1_000; i++) rates.take([{ key: `ip_operations:10.0.${i >> 8}.${i & 255}`, perMinute: 60, cost: 1 }]);
    rates.take([{ key: 'token_operations:b', perMinute: 6, cost: 3 }]);
    rates.take([{ key: 'token_operations:c', perMinute: 5, cost: 5 }]);
    expect(rates.size).toBe(1_002);
    expect(vi.getTimerCount()).toBe(1);

    vi.advanceTimersByTime(1_000);
    expect(rates.size).toBe(2);
    vi.advanceTimersByTime(29_000);
    expect(rates.size).toBe(1);
    vi.advanceTimersByTime(30_000);
    expect(rates.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    // A refused take leaves nothing behind either.
    const full = { key: 'token_operations:d', perMinute: 1, cost: 2 };
    expect(rates.take([full])).not.toBeNull();
    expect(rates.size).toBe(0);
    rates.close();
  });

  it(`holds at most its bound of keys, dropping the least recently used`, () => {
    const rates = new MemoryRates(100);
    const key = (i: number) => ({ key: `ip_operations:10.1.0.${i}`, perMinute: 2, cost: 1 });
    for (let i = 0; i < 100; i++) rates.take([key(i)]);
    // Key 0 used again: key 1 is now the least recently used.
    rates.take([key(0)]);
    for (let i = 100; i < 150; i++) rates.take([key(i)]);
    expect(rates.size).toBe(100);
    // Key 0 was kept, with its count (2 of 2 a minute: a window of 60 s); every other key has a window of 30 s.
    vi.advanceTimersByTime(30_000);
    expect(rates.size).toBe(1);
    rates.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('places in memory', () => {
  it('refuses past the bound, frees a place given back, and keeps no entry for a subject without places', () => {
    const places = new MemoryPlaces();
    expect(places.take('a', 2)).toBe(true);
    expect(places.take('a', 2)).toBe(true);
    expect(places.take('a', 2)).toBe(false);
    expect(places.take('b', 2)).toBe(true);
    places.release('a');
    expect(places.take('a', 2)).toBe(true);
    places.release('a');
    places.release('a');
    places.release('b');
    expect(places.size).toBe(0);
  });
});
