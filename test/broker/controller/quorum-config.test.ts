// The metadata quorum's broker configs: controller.quorum.voters, process.roles and controller listeners.
import { describe, expect, test } from 'vitest'
import { buildBrokerConfig, ConfigError, parseVoters } from '../../../broker/config.ts'

const build = (extra: Record<string, string>) =>
  buildBrokerConfig({ flags: [{ key: 'node.id', value: '1', where: 'test' }, { key: 'log.dirs', value: '/tmp/x', where: 'test' }, ...Object.entries(extra).map(([key, value]) => ({ key, value, where: `--override ${key}` }))] })

describe('quorum configuration', () => {
  test('defaults: combined mode, no voters (this node alone), CONTROLLER as the controller listener name', () => {
    const c = build({})
    expect(c.roles).toEqual({ broker: true, controller: true })
    expect(c.voters).toBeNull()
    expect(c.controllerListenerNames).toEqual(['CONTROLLER'])
    expect(c.clientListeners.map((l) => l.name)).toEqual(['PLAINTEXT'])
    expect(c.int('broker.session.timeout.ms')).toBe(9000)
    expect(c.int('offsets.topic.replication.factor')).toBe(3)
  })

  test('voters parse as id@host:port; the controller listener is kept apart from client listeners', () => {
    expect([...parseVoters('1@127.0.0.2:19092, 2@[::1]:19093')]).toEqual([[1, { host: '127.0.0.2', port: 19092 }], [2, { host: '::1', port: 19093 }]])
    const c = build({ listeners: 'PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:19092', 'controller.quorum.voters': '1@127.0.0.2:19092,2@127.0.0.3:19092' })
    expect(c.clientListeners.map((l) => l.port)).toEqual([9092])
    expect(c.controllerListeners.map((l) => l.port)).toEqual([19092])
    expect([...c.voters!.keys()]).toEqual([1, 2])
  })

  test('inconsistent settings are refused with what would be accepted', () => {
    expect(() => build({ 'controller.quorum.voters': '1@h:1,1@h:2' })).toThrow(/listed twice/)
    expect(() => build({ 'controller.quorum.voters': 'one@h:1' })).toThrow(/expected id@host:port/)
    expect(() => build({ 'controller.quorum.voters': '1@h:1' })).toThrow(/no CONTROLLER listener/)
    expect(() => build({ 'controller.quorum.voters': '2@h:1' })).toThrow(/not in controller.quorum.voters/)
    expect(() => build({ 'process.roles': 'controller' })).toThrow(ConfigError)
    expect(() => build({ listeners: 'CONTROLLER://h:1' })).toThrow(/no client listener/)
    expect(build({ 'process.roles': 'broker', 'controller.quorum.voters': '2@h:1' }).roles).toEqual({ broker: true, controller: false })
  })
})
