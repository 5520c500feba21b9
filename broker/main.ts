// Broker process entry: flags + config file -> BrokerConfig -> Broker -> listeners; SIGTERM/SIGINT stop it
// cleanly (flush, checkpoints, clean-shutdown marker). A second signal exits at once.

import { Broker } from './broker.ts'
import { buildBrokerConfig, ConfigError, readPropertiesFile, type ConfigInput } from './config.ts'
import { listenerSecurity } from './listener-security.ts'
import { createLogger, type LogLevel } from './logger.ts'

export interface BrokerFlags {
  nodeId?: string
  listeners?: string
  advertisedListeners?: string
  dataDir?: string
  config?: string
  override?: string[]
  logLevel?: string
  /** Stop cleanly when stdin closes: the harness that spawned us died or let go. */
  exitWithParent?: boolean
}

/** Turns CLI flags into a validated config; throws ConfigError naming the flag, file and line. */
export function configFromFlags(flags: BrokerFlags) {
  const input: ConfigInput = { flags: [] }
  if (flags.config) input.file = readPropertiesFile(flags.config)
  const add = (key: string, value: string | undefined, where: string) => {
    if (value !== undefined) input.flags!.push({ key, value, where })
  }
  add('node.id', flags.nodeId, '--node-id')
  add('listeners', flags.listeners, '--listeners')
  add('advertised.listeners', flags.advertisedListeners, '--advertised-listeners')
  add('log.dirs', flags.dataDir, '--data-dir')
  for (const o of flags.override ?? []) {
    const eq = o.indexOf('=')
    if (eq <= 0) throw new ConfigError(`--override ${JSON.stringify(o)}: expected key=value, e.g. --override num.partitions=3`)
    add(o.slice(0, eq), o.slice(eq + 1), `--override ${o.slice(0, eq)}`)
  }
  const config = buildBrokerConfig(input)
  // Listener protocols, keys and certificates are bad input too (exit 2), not a failure to start.
  listenerSecurity(config)
  return config
}

export async function runBroker(flags: BrokerFlags): Promise<number> {
  const level = (flags.logLevel ?? 'info') as LogLevel
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    process.stderr.write(`faultline broker: --log-level ${flags.logLevel} is not one of debug, info, warn, error\n`)
    return 2
  }
  let config
  try {
    config = configFromFlags(flags)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`faultline broker: bad configuration:\n${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = createLogger({ level, base: { node: config.nodeId } })
  let broker: Broker
  try {
    broker = await Broker.start(config, {
      logger: log,
      // The broker already shut down cleanly; a broker that cannot follow metadata must not stay up half-alive.
      onFatal: () => process.exit(3),
    })
  } catch (err) {
    log.error('broker failed to start', { err })
    process.stderr.write(`faultline broker: failed to start: ${(err as Error).message}\n`)
    return 3
  }
  // Logs go to whoever started us; if that process is gone, writes fail with EPIPE, which must not crash the broker.
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) {
        log.warn('second signal: exiting without a clean shutdown', { signal })
        process.exit(1)
      }
      stopping = true
      log.info('shutting down', { signal })
      broker.shutdown().then(
        () => {
          log.info('shutdown complete')
          resolve(0)
        },
        (err: unknown) => {
          log.error('shutdown failed', { err })
          resolve(3)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
    if (flags.exitWithParent) {
      process.stdin.on('end', () => stop('parent-exit'))
      process.stdin.on('error', () => stop('parent-exit'))
      process.stdin.resume()
    }
  })
}
