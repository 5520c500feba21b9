// One TCP connect, as the partition tests probe a cut: 'connected', 'timeout' (a dropped SYN) or the error code.

import { connect } from 'node:net'

export function tcpProbe(to: { host: string; port: number; localAddress?: string }, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(to)
    const t = setTimeout(() => {
      s.destroy()
      resolve('timeout')
    }, timeoutMs)
    s.once('connect', () => {
      clearTimeout(t)
      s.destroy()
      resolve('connected')
    })
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t)
      resolve(e.code ?? e.message)
    })
  })
}
