// Time for broker core logic. Storage, group, replication and controller code take a Clock at
// construction and never call Date.now() or setTimeout themselves, so tests can drive time by hand
// (ManualClock) and a deterministic simulation can later interleave timers with faults.

export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch: record timestamps, retention. */
  now(): number
  /** Monotonic milliseconds: timeouts and intervals. */
  monotonic(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  setInterval(fn: () => void, ms: number): TimerHandle
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return { cancel: () => clearTimeout(t) }
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms)
    t.unref?.()
    return { cancel: () => clearInterval(t) }
  },
}

interface Pending {
  id: number
  at: number
  fn: () => void
  every: number | null
  cancelled: boolean
}

/** A clock that moves only when told to; timers fire in due order during advance(). */
export class ManualClock implements Clock {
  private t: number
  private wall: number
  private seq = 0
  private timers: Pending[] = []

  constructor(start = 0, wallStart = 1_700_000_000_000) {
    this.t = start
    this.wall = wallStart
  }

  now(): number {
    return this.wall + this.t
  }

  monotonic(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, null)
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms))
  }

  private add(fn: () => void, ms: number, every: number | null): TimerHandle {
    const p: Pending = { id: this.seq++, at: this.t + Math.max(0, ms), fn, every, cancelled: false }
    this.timers.push(p)
    return {
      cancel: () => {
        p.cancelled = true
      },
    }
  }

  /** Number of live timers. */
  get pending(): number {
    return this.timers.filter((p) => !p.cancelled).length
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in time order (ties in creation order). */
  advance(ms: number): void {
    const target = this.t + ms
    for (;;) {
      this.timers = this.timers.filter((p) => !p.cancelled)
      let next: Pending | undefined
      for (const p of this.timers) {
        if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p
      }
      if (!next) break
      this.t = Math.max(this.t, next.at)
      if (next.every !== null) {
        next.at += next.every
        next.id = this.seq++
      } else {
        next.cancelled = true
      }
      next.fn()
    }
    this.t = target
  }
}
