// Listener security resolution (broker/listener-security.ts) on configs built the way the broker builds them:
// which listener brokers and controllers use, per-listener ssl.* prefixes, and the errors that name the key.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildBrokerConfig } from '../../broker/config.ts'
import { listenerSecurity, principalFromSubject } from '../../broker/listener-security.ts'
import { makeCerts, type CertFiles } from '../../chaos/cluster/certs.ts'
import { removeDir, tempDir } from '../helpers/broker-process.ts'

let dir: string
let certs: CertFiles
beforeAll(() => {
  dir = tempDir('faultline-certs-')
  certs = makeCerts({ dir, brokers: 2, hosts: ['127.0.0.1'] })
})
afterAll(() => removeDir(dir))

const resolve = (values: Record<string, string>) =>
  listenerSecurity(buildBrokerConfig({ flags: Object.entries({ 'node.id': '1', 'log.dirs': '/tmp/unused', ...values }).map(([key, value]) => ({ key, value, where: `--override ${key}` })) }))
const errorOf = (values: Record<string, string>) => {
  try {
    resolve(values)
    return null
  } catch (e) {
    return (e as Error).message
  }
}

describe('listener security', () => {
  test('inter-broker and controller listeners; CONTROLLER is PLAINTEXT only while the map is unset', () => {
    const s = resolve({ listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0' })
    expect([s.interBrokerListener, s.interBrokerTls, s.controllerTls, s.listeners.map((l) => l.protocol)]).toEqual(['PLAINTEXT', null, null, ['PLAINTEXT', 'PLAINTEXT']])
    expect(errorOf({ listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT' })).toMatch(/^listeners: listener CONTROLLER has no entry/)
    expect(errorOf({ listeners: 'A://127.0.0.1:0', 'listener.security.protocol.map': 'A:PLAINTEXT' })).toMatch(/^security.inter.broker.protocol: the inter-broker listener PLAINTEXT is not among listeners \(A\)/)
    expect(errorOf({ listeners: 'A://127.0.0.1:0', 'listener.security.protocol.map': 'A:PLAINTEXT', 'inter.broker.listener.name': 'A', 'security.inter.broker.protocol': 'PLAINTEXT' })).toMatch(/both set/)
    expect(errorOf({ listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0', 'inter.broker.listener.name': 'CONTROLLER' })).toMatch(/is a controller listener/)
    expect(errorOf({ listeners: 'PLAINTEXT://127.0.0.1:0', 'advertised.listeners': 'SSL://127.0.0.1:1' })).toMatch(/^advertised.listeners: listener SSL is not in listeners/)
  })

  test('listener.name.<name>.ssl.* wins over ssl.*; a broker-only node gets the controller listener\'s TLS', () => {
    const s = resolve({
      listeners: 'CLIENT://127.0.0.1:0,BROKER://127.0.0.1:0',
      'listener.security.protocol.map': 'CLIENT:SSL,BROKER:SSL,CONTROLLER:SSL',
      'inter.broker.listener.name': 'BROKER',
      'process.roles': 'broker',
      'controller.quorum.voters': '2@127.0.0.1:1',
      'ssl.keystore.location': certs.entries['broker-1']!.keystore,
      'ssl.truststore.location': certs.ca,
      'listener.name.broker.ssl.keystore.location': certs.entries['broker-2']!.keystore,
      'listener.name.client.ssl.enabled.protocols': 'TLSv1.3',
    })
    const [client, broker] = s.listeners
    expect(client!.tls!.context.cert).not.toBe(broker!.tls!.context.cert)
    expect(s.interBrokerTls!.context.cert).toBe(broker!.tls!.context.cert)
    expect([client!.tls!.context.minVersion, broker!.tls!.context.minVersion]).toEqual(['TLSv1.3', 'TLSv1.2'])
    expect(s.controllerTls!.clientAuth).toBe('required')
    expect(client!.tls!.clientAuth).toBe('none')
  })

  test('SSL without a truststore cannot require client certificates; key and chain must both be inline', () => {
    const base = { listeners: 'SSL://127.0.0.1:0', 'security.inter.broker.protocol': 'SSL' }
    expect(errorOf({ ...base, 'ssl.keystore.location': certs.entries['broker-1']!.keystore, 'ssl.client.auth': 'required' })).toMatch(/no truststore/)
    expect(errorOf({ ...base, 'ssl.keystore.key': 'x' })).toMatch(/ssl.keystore.key is set but ssl.keystore.certificate.chain is not/)
    expect(errorOf({ ...base, 'ssl.keystore.location': certs.entries['broker-1']!.keystore, 'ssl.keystore.type': 'JKS' })).toMatch(/ssl.keystore.type="JKS" is not valid/)
  })

  test('principal: the subject DN most specific first, RFC 2253 escapes kept', () => {
    expect(principalFromSubject('C=US\nO=Acme\\, Inc.\nOU=eng\nCN=alice')).toBe('User:CN=alice,OU=eng,O=Acme\\, Inc.,C=US')
  })
})
