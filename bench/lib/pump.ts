// The one write loop of the bench's clients (raw TCP and raw producer), so both ceilings and measurements push
// bytes the same way: keep up to `queueBytes` in the socket's user-space queue, refill on 'drain'.

import type { Socket } from 'node:net'

/** Writes next() buffers until it returns null; resolves once everything is handed to the socket. */
export function pump(socket: Socket, next: () => Buffer | null, queueBytes: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    socket.once('error', onError)
    const go = (): void => {
      for (;;) {
        // Above the high-water mark the last write returned false, so 'drain' is due.
        if (socket.writableLength >= queueBytes) {
          socket.once('drain', go)
          return
        }
        const b = next()
        if (b === null) {
          socket.off('error', onError)
          resolve()
          return
        }
        socket.write(b)
      }
    }
    go()
  })
}

/** How long a timed pump runs: next() returns null once `seconds` have passed. */
export function deadline(seconds: number): () => boolean {
  const end = performance.now() + seconds * 1000
  return () => performance.now() >= end
}
