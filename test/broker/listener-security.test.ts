// Listener security resolution (broker/listener-security.ts) on configs built the way the broker builds them:
// which listener brokers and controllers use, per-listener ssl.* and sasl.* prefixes, JAAS entries, and the
// errors that name the key.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildBrokerConfig } from '../../broker/config.ts'
import { listenerSecurity, principalFromSubject } from '../../broker/listener-security.ts'
import { parseJaas } from '../../broker/sasl/jaas.ts'
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

describe('SASL listeners', () => {
  const PLAIN = 'org.apache.kafka.common.security.plain.PlainLoginModule'
  const SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule'

  test('mechanisms per listener, PLAIN users from the listener\'s JAAS entry, inter-broker credentials', () => {
    const s = resolve({
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
      'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name': 'INTERNAL',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
      'listener.name.internal.sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': `${PLAIN} required user_alice="a-pw" user_bob="b\\"pw";`,
      'listener.name.internal.scram-sha-512.sasl.jaas.config': `${SCRAM} required username="broker" password="broker-pw";`,
    })
    const [client, internal] = s.listeners
    expect(client!.sasl!.mechanisms).toEqual(['PLAIN', 'SCRAM-SHA-256'])
    expect([...client!.sasl!.plainUsers]).toEqual([
      ['alice', 'a-pw'],
      ['bob', 'b"pw'],
    ])
    expect(internal!.sasl!.mechanisms).toEqual(['SCRAM-SHA-512'])
    expect([client!.tls, s.interBrokerTls]).toEqual([null, null])
    expect(s.interBrokerSasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'broker', password: 'broker-pw' })
  })

  test('SASL_SSL listeners get TLS too', () => {
    const s = resolve({
      listeners: 'SASL_SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256',
      'ssl.keystore.location': certs.entries['broker-1']!.keystore,
    })
    expect(s.listeners[0]!.tls).not.toBeNull()
    expect(s.listeners[0]!.sasl!.mechanisms).toEqual(['SCRAM-SHA-256'])
  })

  test('connections.max.reauth.ms per listener and mechanism over the global value; 0 by default; checked as the global key', () => {
    const base = { listeners: 'SASL_PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0', 'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT', 'inter.broker.listener.name': 'INTERNAL', 'sasl.enabled.mechanisms': 'SCRAM-SHA-512', 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512', 'listener.name.internal.scram-sha-512.sasl.jaas.config': `${SCRAM} required username="broker" password="broker-pw";` }
    const lifetimes = (v: Record<string, string>) => resolve({ ...base, ...v }).listeners.map((l) => l.sasl!.maxReauthMs)
    expect(lifetimes({})).toEqual([0, 0].map(() => ({ PLAIN: 0, 'SCRAM-SHA-256': 0, 'SCRAM-SHA-512': 0 })))
    const [client, internal] = lifetimes({ 'connections.max.reauth.ms': '60000', 'listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms': '1500' })
    expect([client, internal]).toEqual([
      { PLAIN: 60000, 'SCRAM-SHA-256': 60000, 'SCRAM-SHA-512': 1500 },
      { PLAIN: 60000, 'SCRAM-SHA-256': 60000, 'SCRAM-SHA-512': 60000 },
    ])
    expect(errorOf({ ...base, 'listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms': '-1' })).toMatch(/listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms/)
    expect(errorOf({ ...base, 'listener.name.sasl_plaintext.gssapi.connections.max.reauth.ms': '1' })).toMatch(/unknown config "listener.name.sasl_plaintext.gssapi.connections.max.reauth.ms"/)
  })

  test('what cannot be served is an error naming the key', () => {
    const base = { listeners: 'SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0' }
    expect(errorOf(base)).toMatch(/^sasl.enabled.mechanisms=GSSAPI: mechanism GSSAPI of SASL listener SASL_PLAINTEXT is not supported.*set sasl.enabled.mechanisms/)
    expect(errorOf({ ...base, 'sasl.enabled.mechanisms': 'PLAIN' })).toMatch(/^listener SASL_PLAINTEXT enables PLAIN but listener.name.sasl_plaintext.plain.sasl.jaas.config is not set/)
    expect(errorOf({ ...base, 'sasl.enabled.mechanisms': 'PLAIN', 'listener.name.sasl_plaintext.plain.sasl.jaas.config': `${SCRAM} required;` })).toMatch(/login module .*ScramLoginModule does not serve PLAIN/)
    expect(errorOf({ ...base, 'sasl.enabled.mechanisms': 'PLAIN', 'listener.name.sasl_plaintext.plain.sasl.jaas.config': `${PLAIN} required user_a="x"` })).toMatch(/must end with ";"/)
    expect(errorOf({ ...base, 'sasl.enabled.mechanisms': 'SCRAM-SHA-256', 'sasl.jaas.config': `${SCRAM} required;` })).toMatch(/^sasl.jaas.config: a broker reads JAAS options per listener and mechanism only/)
    expect(errorOf({ ...base, 'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'OAUTHBEARER' })).toMatch(/^listener.name.sasl_plaintext.sasl.enabled.mechanisms=OAUTHBEARER: mechanism OAUTHBEARER .* not supported/)
    const ib = { ...base, 'sasl.enabled.mechanisms': 'SCRAM-SHA-256', 'inter.broker.listener.name': 'SASL_PLAINTEXT' }
    expect(errorOf(ib)).toMatch(/^sasl.mechanism.inter.broker.protocol=GSSAPI: the inter-broker listener SASL_PLAINTEXT is SASL and enables SCRAM-SHA-256/)
    expect(errorOf({ ...ib, 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256' })).toMatch(/^listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config: .* needs this broker's username/)
    expect(errorOf({ listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT' })).toMatch(
      /^listeners: controller listener CONTROLLER is SASL_PLAINTEXT; the metadata quorum's channel cannot carry SASL: use SSL/,
    )
  })

  test('JAAS entries: quoted and bare values, escapes, flags', () => {
    const e = parseJaas(`${PLAIN} required username=admin password="a b\\"c" user_x="";`)
    expect(typeof e === 'string' ? e : [...e.options]).toEqual([
      ['username', 'admin'],
      ['password', 'a b"c'],
      ['user_x', ''],
    ])
    expect(parseJaas(`${PLAIN} maybe;`)).toMatch(/unknown control flag/)
    expect(parseJaas(`${PLAIN} required; ${PLAIN} required;`)).toMatch(/only one login module/)
    expect(parseJaas('required')).toMatch(/expected/)
  })
})
