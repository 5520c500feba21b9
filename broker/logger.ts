// Structured log lines: one JSON object per line ({"ts","level","msg",...fields}), so the harness and users
// can grep and parse broker logs. Levels below the configured one are dropped.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

function serializable(v: unknown): unknown {
  if (v instanceof Error) return { name: v.name, message: v.message, code: (v as NodeJS.ErrnoException).code }
  if (typeof v === 'bigint') return v.toString()
  return v
}

export function createLogger(opts: { level?: LogLevel; base?: LogFields; write?: (line: string) => void } = {}): Logger {
  const min = rank[opts.level ?? 'info']
  const write = opts.write ?? ((line: string) => process.stdout.write(line))
  const base = opts.base ?? {}
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] < min) return
    const rec: LogFields = { ts: new Date().toISOString(), level, msg, ...base }
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = serializable(v)
    write(`${JSON.stringify(rec)}\n`)
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level: opts.level, base: { ...base, ...fields }, write }),
  }
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}
