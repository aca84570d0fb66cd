// Which address a request comes from, for the per-address limit: the socket's peer, or with TRUSTED_PROXIES set, the
// address the outermost trusted proxy saw (read from X-Forwarded-For, which only trusted proxies may have written).
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** One address as an XFF entry may spell it: bare, `[v6]:port`, or `v4:port`. Null when it is no address. */
function addressOf(entry: string): string | null {
  const text = entry.trim();
  if (isIP(text)) return text;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed && isIP(bracketed[1]) === 6) return bracketed[1];
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  if (withPort && isIP(withPort[1]) === 4) return withPort[1];
  return null;
}

/** The eight groups of an IPv6 address (with an embedded IPv4 tail read as two groups). */
function groupsOf(address: string): number[] {
  let text = address.split('%')[0].toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail[1].split('.').map(Number);
    text = `${text.slice(0, -tail[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const missing = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => parseInt(g, 16) || 0);
}

/**
 * The key an address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6 one too), an IPv6 address by
 * its /64, which one subscriber line or host usually holds whole (counting each of its addresses apart would let one
 * client take 2^64 allowances).
 */
export function addressKey(address: string): string {
  if (isIP(address) === 4) return address;
  const groups = groupsOf(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/**
 * The address of the client of a request (or WebSocket upgrade). With `trustedProxies` = n, the nth address from the
 * peer: the peer is the nearest proxy, and each trusted proxy appended the address it saw to X-Forwarded-For. Fewer
 * entries than that: the furthest one there is. An entry that is no address: the peer's.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedProxies === 0) return addressKeyOrPeer(peer, peer);
  const header = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').filter((e) => e.trim() !== '');
  if (entries.length === 0) return addressKeyOrPeer(peer, peer);
  const chosen = entries[Math.max(0, entries.length - trustedProxies)];
  return addressKeyOrPeer(addressOf(chosen), peer);
}

function addressKeyOrPeer(address: string | null, peer: string): string {
  if (address !== null && isIP(address)) return addressKey(address);
  return isIP(peer) ? addressKey(peer) : peer;
}
