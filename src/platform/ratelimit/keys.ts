import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/** Longest key a limiter stores as given; longer ones are stored by hash, so a key costs little memory. */
export const MAX_KEY_LENGTH = 128;

/** `key`, or for a longer one its start and a SHA-256 of all of it (still one distinct key each). */
export function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${key.slice(0, 64)}#${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * What to count a client address under: an IPv4 address as it is, an IPv6 one by its /64. A
 * subscriber is handed at least a /64, so counting single IPv6 addresses would give one client
 * 2^64 fresh budgets (and the limiter as many keys).
 */
export function clientNetwork(ip: string): string {
  const address = ip.split('%', 1)[0] ?? ip;
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return mapped;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const groupsOf = (part: string) =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ipv4Groups(group) : [group]));
  const start = groupsOf(head);
  const end = tail === undefined ? [] : groupsOf(tail);
  const zeros = Array.from({ length: 8 - start.length - end.length }, () => '0');
  return [...start, ...zeros, ...end].map((group) => Number.parseInt(group, 16).toString(16));
}

/** An embedded dotted IPv4 address (the last 32 bits of some IPv6 forms) as two hex groups. */
function ipv4Groups(dotted: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
