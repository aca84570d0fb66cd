// Whose address a request is counted under: the peer's unless TRUSTED_PROXIES says how many proxies appended to
// X-Forwarded-For, and then the address the outermost of them saw; IPv6 addresses by their /64.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { addressKey, clientAddress } from '../../src/client-address.js';

const request = (peer: string, forwardedFor?: string | string[]) =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('the address of a request', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress(request('192.0.2.7', '198.51.100.1'), 0)).toBe('192.0.2.7');
    expect(clientAddress(request('::ffff:192.0.2.7'), 0)).toBe('192.0.2.7');
  });

  it('is the address the outermost trusted proxy saw', () => {
    // client (claims 203.0.113.9) -> proxy A (appends 198.51.100.1) -> proxy B (appends 10.0.0.2) -> gateway.
    const chain = request('10.0.0.3', '203.0.113.9, 198.51.100.1, 10.0.0.2');
    expect(clientAddress(chain, 1)).toBe('10.0.0.2');
    expect(clientAddress(chain, 2)).toBe('198.51.100.1');
    expect(clientAddress(chain, 3)).toBe('203.0.113.9');
    // More proxies trusted than entries: the furthest entry there is.
    expect(clientAddress(chain, 5)).toBe('203.0.113.9');
    // Several headers count as one list.
    expect(clientAddress(request('10.0.0.3', ['203.0.113.9', '198.51.100.1']), 1)).toBe('198.51.100.1');
  });

  it('reads entries with ports and brackets, and falls back to the peer for one that is no address', () => {
    expect(clientAddress(request('10.0.0.3', '198.51.100.1:4711'), 1)).toBe('198.51.100.1');
    expect(clientAddress(request('10.0.0.3', '[2001:db8::1]:443'), 1)).toBe('2001:db8:0:0::/64');
    expect(clientAddress(request('10.0.0.3', 'unknown'), 1)).toBe('10.0.0.3');
    expect(clientAddress(request('10.0.0.3', ''), 1)).toBe('10.0.0.3');
  });

  it('counts IPv6 addresses by their /64, and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:0:ffff:1:2:3')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
  });
});
