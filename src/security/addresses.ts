/**
 * Which IP addresses are public (D19): everything outside the special-purpose ranges of RFC 6890
 * and friends, in both families; IPv4 embedded in IPv6 (mapped, translated, 6to4, Teredo, NAT64)
 * judged by the IPv4 address it carries.
 */
import { BlockList, isIP } from 'node:net';

/** IPv4 ranges that are not publicly routable (RFC 6890 special-purpose registry and friends). */
const NON_PUBLIC_V4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes 255.255.255.255 (broadcast)
] as const) {
  NON_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
}

function isPublicV4(ip: string): boolean {
  return isIP(ip) === 4 && !NON_PUBLIC_V4.check(ip, 'ipv4');
}

/** Dotted IPv4 text from two 16-bit groups. */
function v4FromGroups(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** Parses IPv6 text (with `::` compression, an embedded dotted IPv4 tail, a zone) into 8 groups. */
function parseV6(text: string): number[] | null {
  let ip = text;
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (isIP(ip) !== 6) return null;

  // An embedded dotted IPv4 tail (`::ffff:127.0.0.1`) becomes two hex groups.
  const lastColon = ip.lastIndexOf(':');
  const tail = ip.slice(lastColon + 1);
  if (tail.includes('.')) {
    const octets = tail.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return null;
    const [a, b, c, d] = octets as [number, number, number, number];
    ip = `${ip.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }

  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups;
}

function isPublicV6(ip: string): boolean {
  const g = parseV6(ip);
  if (g === null) return false;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embedded = v4FromGroups(g6, g7);

  // ::ffff:0:0/96, IPv4-mapped: judged by the IPv4 address it carries.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return isPublicV4(embedded);
  // ::ffff:0:0:0/96, IPv4-translated (RFC 2765): same.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) return isPublicV4(embedded);
  // ::/96 (IPv4-compatible, deprecated), which also covers :: and ::1.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return false;
  // 64:ff9b::/96, NAT64 well-known prefix: judged by the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPublicV4(embedded);
  // 64:ff9b:1::/48, NAT64 local-use prefix.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return false;
  // 100::/64, discard-only.
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return false;
  // 2001:db8::/32, documentation.
  if (g0 === 0x2001 && g1 === 0xdb8) return false;
  // 2002::/16, 6to4: judged by the IPv4 address in bits 16..48.
  if (g0 === 0x2002) return isPublicV4(v4FromGroups(g1, g2));
  // 2001::/32, Teredo: the server (bits 32..64) and the obfuscated client (last 32 bits) must be public.
  if (g0 === 0x2001 && g1 === 0) return isPublicV4(v4FromGroups(g2, g3)) && isPublicV4(v4FromGroups(g6 ^ 0xffff, g7 ^ 0xffff));
  // 2001:2::/48 benchmarking; 2001:10::/28 and 2001:20::/28 ORCHID.
  if (g0 === 0x2001 && ((g1 === 2 && g2 === 0) || (g1 & 0xfff0) === 0x10 || (g1 & 0xfff0) === 0x20)) return false;
  // fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || (g0 & 0xff00) === 0xff00) {
    return false;
  }
  // Everything public is inside the global unicast space 2000::/3; the rest is unallocated.
  return (g0 & 0xe000) === 0x2000;
}

/**
 * Whether `ip` is a publicly routable address. Anything that is not a valid IPv4 (dotted decimal)
 * or IPv6 address is reported as not public.
 */
export function isPublicAddress(ip: string): boolean {
  const candidate = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIP(candidate) === 4) return isPublicV4(candidate);
  return isPublicV6(candidate);
}
