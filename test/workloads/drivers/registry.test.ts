// The driver registry is the one list of drivers: each name loads the driver of that name, and the
// capabilities preflight reads are the ones the loaded driver reports.

import { describe, expect, it } from 'vitest'
import { capabilitiesOf, createDriver, describeDrivers, driverNames } from '../../../workloads/drivers/registry.ts'

describe('driver registry', () => {
  it.each(driverNames.map((n) => [n]))('%s: loads the driver of that name, with the capabilities preflight reads', async (name) => {
    // Nothing listens on port 1: creating a driver does not connect.
    const d = await createDriver(name, { bootstrap: ['127.0.0.1:1'] })
    try {
      expect(d.name).toBe(name)
      expect(await capabilitiesOf(name)).toEqual(d.capabilities)
    } finally {
      await d.close()
    }
  })

  it('refuses a driver without bootstrap servers', async () => {
    await expect(createDriver('raw', { bootstrap: [] })).rejects.toThrow(/no bootstrap servers/)
  })

  it('names every driver for help texts', () => {
    expect(describeDrivers()).toBe('kafkajs, platformatic (@platformatic/kafka) or raw (faultline’s own client)')
  })
})
