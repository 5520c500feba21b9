// Where this broker's own connections to its peers (replica fetchers, the CONTROLLER channel) come from: the
// address its listeners are bound to, so that traffic between brokers can be told apart by source address.
// faultline's partitions cut that traffic with iptables rules by address (docs/architecture.md); without this
// binding every loopback connection would come from 127.0.0.1, the harness's clients' address.
// A wildcard or a host name binds nothing (the OS chooses), nor does a loopback address towards a peer that
// is not on loopback (the connection could not be routed).

import { isIP } from 'node:net'

const isLoopback = (ip: string): boolean => (isIP(ip) === 4 ? ip.startsWith('127.') : ip === '::1')

/** The address to bind a connection from `ownHost` to `peerHost` to, or undefined to let the OS choose. */
export function localAddressFor(ownHost: string | undefined, peerHost: string): string | undefined {
  if (ownHost === undefined) return undefined
  const family = isIP(ownHost)
  if (family === 0 || ownHost === '0.0.0.0' || ownHost === '::') return undefined
  const peerFamily = isIP(peerHost)
  if (peerFamily === 0) return peerHost === 'localhost' ? (isLoopback(ownHost) ? ownHost : undefined) : isLoopback(ownHost) ? undefined : ownHost
  if (peerFamily !== family) return undefined
  return isLoopback(ownHost) && !isLoopback(peerHost) ? undefined : ownHost
}
