// The driver registry: the one list of drivers a scenario can name, how each is loaded (lazily, so a
// third-party client is imported only by a run that uses it) and where its capabilities come from. A new
// driver is a module in this folder and one entry here (see docs/architecture.md).

import { type Capabilities, type ConnectOptions, type Driver, DriverFailure } from '../driver.ts'

export const driverNames = ['kafkajs', 'platformatic', 'raw'] as const
export type DriverName = (typeof driverNames)[number]

/**
 * The driver a run uses when the scenario names none: the faster of the two third-party clients in
 * `npm run bench` (harness producer at max rate against our broker). See the workloads report for figures.
 */
export const DEFAULT_DRIVER: DriverName = 'platformatic'

interface DriverModule {
  readonly capabilities: Capabilities
  create(opts: ConnectOptions): Driver
}

interface DriverEntry {
  /** What the name stands for, in help texts and the scenario's JSON Schema. */
  readonly label: string
  load(): Promise<DriverModule>
}

const registry: Readonly<Record<DriverName, DriverEntry>> = {
  kafkajs: {
    label: 'kafkajs',
    load: async () => {
      const m = await import('./kafkajs.ts')
      return { capabilities: m.kafkajsCapabilities, create: m.kafkajsDriver }
    },
  },
  platformatic: {
    label: '@platformatic/kafka',
    load: async () => {
      const m = await import('./platformatic.ts')
      return { capabilities: m.platformaticCapabilities, create: m.platformaticDriver }
    },
  },
  raw: {
    label: 'faultline’s own client',
    load: async () => {
      const m = await import('./raw.ts')
      return { capabilities: m.rawCapabilities, create: m.rawDriver }
    },
  },
}

/** "kafkajs, platformatic (@platformatic/kafka) or raw (faultline’s own client)". */
export function describeDrivers(): string {
  const items = driverNames.map((n) => (registry[n].label === n ? n : `${n} (${registry[n].label})`))
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

/** What a driver's client can do, for refusing a scenario before a run starts. */
export async function capabilitiesOf(name: DriverName): Promise<Capabilities> {
  return (await registry[name].load()).capabilities
}

/** Loads a driver by name and connects it. */
export async function createDriver(name: DriverName, opts: ConnectOptions): Promise<Driver> {
  if (opts.bootstrap.length === 0) throw new DriverFailure('no bootstrap servers: give at least one host:port', { code: 'ERR_FAULTLINE_BAD_INPUT' })
  return (await registry[name].load()).create(opts)
}
