import { lookup, type LookupAddress } from 'node:dns';
import { BlockList, type LookupFunction } from 'node:net';

/**
 * Addresses Plaza never calls at a URL a user gave (a provider's picture, a push endpoint): its own
 * network must not be reachable through it. Private, loopback, link-local, shared, reserved and
 * multicast ranges, and IPv4 reached through IPv6 (mapped, NAT64).
 */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [['::1', 128], ['::', 128], ['fc00::', 7], ['fe80::', 10], ['::ffff:0:0', 96], ['64:ff9b::', 96]] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

export const isPublicAddress = (address: string, family: number) => !NON_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4');

/**
 * Resolves as `dns.lookup` does, failing with `refuse(hostname)` for a name with any non-public
 * address. The connection is made to the address checked here, so the name cannot resolve elsewhere
 * in between (DNS rebinding).
 */
export function publicOnlyLookup(refuse: (hostname: string) => Error): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error !== null) return callback(error, '');
      const first = addresses[0];
      if (first === undefined || !addresses.every((entry) => isPublicAddress(entry.address, entry.family))) return callback(refuse(hostname), '');
      if (options.all === true) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}
