// Listener security: which protocol each listener speaks (listener.security.protocol.map), which listener
// brokers use to reach each other (inter.broker.listener.name / security.inter.broker.protocol) and to reach
// the controllers (controller.listener.names), and the TLS settings of each SSL listener, with Kafka's
// `listener.name.<name>.ssl.*` keys overriding the global `ssl.*` ones.
//
// Everything is resolved and every key and certificate file read at startup: a listener that cannot be served
// as configured is a ConfigError naming the key, never a quieter protocol.
//
// SASL listeners (SASL_PLAINTEXT, SASL_SSL) take their mechanisms from `sasl.enabled.mechanisms` and their JAAS
// options from `listener.name.<name>.<mechanism>.sasl.jaas.config`, as Kafka's brokers: PLAIN users are the
// user_<name>="password" options of the PLAIN entry (Kafka's PlainServerCallbackHandler; PLAIN never reads the
// SCRAM store), SCRAM users live in the metadata log. A CONTROLLER listener cannot be SASL: the quorum channel
// is not Kafka's protocol, so it is secured with mutual TLS instead. Session lifetimes (KIP-368) come from
// `listener.name.<name>.<mechanism>.connections.max.reauth.ms` over `connections.max.reauth.ms`.

import { readFileSync } from 'node:fs'
import { createSecureContext, type ConnectionOptions, type SecureVersion, type TlsOptions } from 'node:tls'
import { ConfigError, type BrokerConfig, type Listener } from './config.ts'
import { parseJaas, PLAIN_LOGIN_MODULE, plainUsers, SCRAM_LOGIN_MODULE } from './sasl/jaas.ts'
import type { ScramMechanism } from './sasl/scram.ts'

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'
export const SECURITY_PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']

/** The `ssl.*` keys a listener may override with `listener.name.<name>.ssl.*`. */
export const SSL_KEYS = [
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.key.password',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.certificates',
  'ssl.client.auth',
  'ssl.enabled.protocols',
  'ssl.endpoint.identification.algorithm',
  'ssl.principal.mapping.rules',
] as const

export type ClientAuth = 'none' | 'requested' | 'required'

export interface TlsSettings {
  /** Key, certificate chain, trusted CAs and versions: what both ends of a connection use. */
  readonly context: { key: string; cert: string; ca?: string; passphrase?: string; minVersion: SecureVersion; maxVersion: SecureVersion }
  readonly clientAuth: ClientAuth
  /** Check the peer's host name or address against its certificate when dialling (ssl.endpoint.identification.algorithm=https). */
  readonly verifyHostname: boolean
}

export type SaslMechanism = 'PLAIN' | ScramMechanism
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']

export interface SaslSettings {
  readonly mechanisms: readonly SaslMechanism[]
  /** PLAIN's users and passwords (user_<name>="password" of the listener's PLAIN JAAS entry). */
  readonly plainUsers: ReadonlyMap<string, string>
  /** Session lifetime per mechanism (connections.max.reauth.ms, KIP-368); 0: sessions never end. */
  readonly maxReauthMs: Readonly<Record<SaslMechanism, number>>
}

/** What this broker authenticates with when it dials a SASL listener of another broker. */
export interface ClientSasl {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: string
}

export interface ListenerSecurity extends Listener {
  readonly protocol: SecurityProtocol
  /** Present exactly when protocol is SSL or SASL_SSL. */
  readonly tls: TlsSettings | null
  /** Present exactly when protocol is SASL_PLAINTEXT or SASL_SSL. */
  readonly sasl: SaslSettings | null
}

export interface Security {
  /** Every listener in `listeners`, with its protocol. */
  readonly listeners: readonly ListenerSecurity[]
  /** The listener brokers fetch from each other on (one of the client listeners). */
  readonly interBrokerListener: string
  /** TLS of the inter-broker listener, or null when it is PLAINTEXT or SASL_PLAINTEXT. */
  readonly interBrokerTls: TlsSettings | null
  /** The broker's own SASL credentials on a SASL inter-broker listener, else null. */
  readonly interBrokerSasl: ClientSasl | null
  /** TLS of the CONTROLLER channel (first of controller.listener.names), or null when it is PLAINTEXT. */
  readonly controllerTls: TlsSettings | null
}

/** Kafka's default map; when the map is not set, controller listeners not in it are PLAINTEXT (as Kafka does). */
export const DEFAULT_PROTOCOL_MAP = 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL'

function parseProtocolMap(value: string): Map<string, SecurityProtocol> {
  const out = new Map<string, SecurityProtocol>()
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):([A-Za-z_]+)$/.exec(part)
    if (!m) throw new ConfigError(`listener.security.protocol.map: ${JSON.stringify(part)} is not NAME:PROTOCOL, e.g. INTERNAL:SSL`)
    const protocol = m[2]!.toUpperCase()
    if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) {
      throw new ConfigError(`listener.security.protocol.map: unknown security protocol ${JSON.stringify(m[2])} for listener ${m[1]}; expected one of ${SECURITY_PROTOCOLS.join(', ')}`)
    }
    out.set(m[1]!.toUpperCase(), protocol as SecurityProtocol)
  }
  return out
}

/** Resolves and checks the security of every listener; throws ConfigError naming the key that is wrong. */
export function listenerSecurity(config: BrokerConfig): Security {
  const mapSet = config.explicit.has('listener.security.protocol.map')
  const map = parseProtocolMap(config.get('listener.security.protocol.map') ?? DEFAULT_PROTOCOL_MAP)
  const controllerNames = config.controllerListenerNames
  const protocolOf = (name: string, key: string): SecurityProtocol => {
    const p = map.get(name) ?? (!mapSet && controllerNames.includes(name) ? 'PLAINTEXT' : undefined)
    if (!p) throw new ConfigError(`${key}: listener ${name} has no entry in listener.security.protocol.map (${config.get('listener.security.protocol.map') ?? DEFAULT_PROTOCOL_MAP}); add ${name}:PLAINTEXT, ${name}:SSL, ...`)
    if ((p === 'SASL_PLAINTEXT' || p === 'SASL_SSL') && controllerNames.includes(name)) {
      throw new ConfigError(`${key}: controller listener ${name} is ${p}; the metadata quorum's channel cannot carry SASL: use SSL (mutual TLS, client certificates always required) or PLAINTEXT`)
    }
    return p
  }
  if (config.get('sasl.jaas.config') !== null) {
    throw new ConfigError('sasl.jaas.config: a broker reads JAAS options per listener and mechanism only: set listener.name.<listener>.<mechanism>.sasl.jaas.config, e.g. listener.name.sasl_plaintext.plain.sasl.jaas.config')
  }
  const tlsFor = (name: string): TlsSettings => sslSettings(config, name, controllerNames.includes(name))
  const listeners = config.listeners.map((l) => {
    const protocol = protocolOf(l.name, 'listeners')
    const tls = protocol === 'SSL' || protocol === 'SASL_SSL' ? tlsFor(l.name) : null
    const sasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL' ? saslSettings(config, l.name) : null
    return { ...l, protocol, tls, sasl }
  })
  if (config.get('advertised.listeners')) {
    const names = new Set(config.listeners.map((l) => l.name))
    for (const l of config.advertisedListeners) {
      if (!names.has(l.name)) throw new ConfigError(`advertised.listeners: listener ${l.name} is not in listeners (${[...names].join(', ')}); each advertised listener names one of them`)
      protocolOf(l.name, 'advertised.listeners')
    }
  }

  const ibName = config.get('inter.broker.listener.name')
  if (ibName && config.explicit.has('security.inter.broker.protocol')) {
    throw new ConfigError('inter.broker.listener.name and security.inter.broker.protocol are both set; set only one')
  }
  const interBrokerListener = (ibName ?? config.get('security.inter.broker.protocol') ?? 'PLAINTEXT').toUpperCase()
  const ibKey = ibName ? 'inter.broker.listener.name' : 'security.inter.broker.protocol'
  if (controllerNames.includes(interBrokerListener)) throw new ConfigError(`${ibKey}: ${interBrokerListener} is a controller listener (controller.listener.names); brokers fetch on a client listener`)
  const ib = config.clientListeners.find((l) => l.name === interBrokerListener)
  if (!ib) {
    throw new ConfigError(
      `${ibKey}: the inter-broker listener ${interBrokerListener} is not among listeners (${config.clientListeners.map((l) => l.name).join(', ')}); set inter.broker.listener.name to one of them`,
    )
  }
  const ibSecurity = listeners.find((l) => l.name === interBrokerListener)!
  const interBrokerTls = ibSecurity.tls
  const interBrokerSasl = ibSecurity.sasl ? interBrokerCredentials(config, ibSecurity.name, ibSecurity.sasl) : null

  const ctlName = controllerNames[0]
  let controllerTls: TlsSettings | null = null
  if (ctlName) {
    const own = listeners.find((l) => l.name === ctlName)
    controllerTls = own ? own.tls : protocolOf(ctlName, 'controller.listener.names') === 'SSL' ? tlsFor(ctlName) : null
  }
  return { listeners, interBrokerListener, interBrokerTls, interBrokerSasl, controllerTls }
}

function jaasOf(config: BrokerConfig, listener: string, mechanism: SaslMechanism) {
  const key = `listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`
  const value = config.get(key)
  if (value === null) return { key, entry: null }
  const entry = parseJaas(value)
  if (typeof entry === 'string') throw new ConfigError(`${key}: ${entry}`)
  const module = mechanism === 'PLAIN' ? PLAIN_LOGIN_MODULE : SCRAM_LOGIN_MODULE
  if (entry.loginModule !== module) throw new ConfigError(`${key}: login module ${entry.loginModule} does not serve ${mechanism}; expected ${module}`)
  return { key, entry }
}

function saslSettings(config: BrokerConfig, listener: string): SaslSettings {
  const enabled = sslValue(config, listener, 'sasl.enabled.mechanisms')
  const names = (enabled.value ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  if (names.length === 0) throw new ConfigError(`${enabled.key}: listener ${listener} is SASL but enables no mechanism; set it to PLAIN, SCRAM-SHA-256 and/or SCRAM-SHA-512`)
  for (const n of names) {
    if (!(SASL_MECHANISMS as readonly string[]).includes(n)) {
      throw new ConfigError(`${enabled.key}=${enabled.value}: mechanism ${n} of SASL listener ${listener} is not supported; supported: ${SASL_MECHANISMS.join(', ')}${enabled.value === 'GSSAPI' && enabled.key === 'sasl.enabled.mechanisms' ? ' (GSSAPI is Kafka\'s default: set sasl.enabled.mechanisms)' : ''}`)
    }
  }
  const mechanisms = [...new Set(names)] as SaslMechanism[]
  let users = new Map<string, string>()
  if (mechanisms.includes('PLAIN')) {
    const { key, entry } = jaasOf(config, listener, 'PLAIN')
    if (!entry) throw new ConfigError(`listener ${listener} enables PLAIN but ${key} is not set; PLAIN users come from its user_<name>="password" options, e.g. ${key}=${PLAIN_LOGIN_MODULE} required user_alice="alice-secret";`)
    users = plainUsers(entry)
  }
  for (const m of mechanisms) if (m !== 'PLAIN') jaasOf(config, listener, m)
  const maxReauthMs = Object.fromEntries(
    SASL_MECHANISMS.map((m) => [m, Number(config.get(`listener.name.${listener.toLowerCase()}.${m.toLowerCase()}.connections.max.reauth.ms`) ?? config.get('connections.max.reauth.ms') ?? '0')]),
  ) as Record<SaslMechanism, number>
  return { mechanisms, plainUsers: users, maxReauthMs }
}

function interBrokerCredentials(config: BrokerConfig, listener: string, sasl: SaslSettings): ClientSasl {
  const mechKey = 'sasl.mechanism.inter.broker.protocol'
  const mechanism = config.get(mechKey) ?? 'GSSAPI'
  if (!(sasl.mechanisms as readonly string[]).includes(mechanism)) {
    throw new ConfigError(`${mechKey}=${mechanism}: the inter-broker listener ${listener} is SASL and enables ${sasl.mechanisms.join(', ')}; set ${mechKey} to one of them`)
  }
  const { key, entry } = jaasOf(config, listener, mechanism as SaslMechanism)
  const username = entry?.options.get('username')
  const password = entry?.options.get('password')
  if (!username || password === undefined) {
    throw new ConfigError(`${key}: the inter-broker listener ${listener} authenticates brokers with ${mechanism}, so its JAAS entry needs this broker's username="..." and password="..."`)
  }
  return { mechanism: mechanism as SaslMechanism, username, password }
}

/** The listener's value of an ssl.* (or sasl.*) key: `listener.name.<name>.<key>` over `<key>`; with the key that set it. */
function sslValue(config: BrokerConfig, listener: string, key: string): { value: string | null; key: string } {
  const prefixed = `listener.name.${listener.toLowerCase()}.${key}`
  const v = config.get(prefixed)
  if (v !== null) return { value: v, key: prefixed }
  return { value: config.get(key), key }
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`${key}=${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
}

const PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/
const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function sslSettings(config: BrokerConfig, listener: string, isController: boolean): TlsSettings {
  const get = (key: string) => sslValue(config, listener, key)
  const need = `listener ${listener} is SSL`
  for (const k of ['ssl.keystore.type', 'ssl.truststore.type']) {
    const t = get(k)
    if (t.value !== null && t.value.toUpperCase() !== 'PEM') throw new ConfigError(`${t.key}=${t.value}: only PEM is supported`)
  }
  const rules = get('ssl.principal.mapping.rules')
  if (rules.value !== null && rules.value !== 'DEFAULT') throw new ConfigError(`${rules.key}: only DEFAULT is supported yet (the subject's full DN as User:CN=...,OU=...)`)

  const location = get('ssl.keystore.location')
  const chain = get('ssl.keystore.certificate.chain')
  const inlineKey = get('ssl.keystore.key')
  let keyPem: string
  let certPem: string
  let keyFrom: string
  if (location.value) {
    if (chain.value || inlineKey.value) throw new ConfigError(`${location.key} and ${chain.value ? chain.key : inlineKey.key} are both set; use a keystore file or inline PEM, not both`)
    const text = readPem(location.value, location.key)
    const k = PRIVATE_KEY.exec(text)
    if (!k) throw new ConfigError(`${location.key}=${location.value}: no PEM private key in the file (a PEM keystore holds the key and the certificate chain)`)
    keyPem = k[0]
    certPem = (text.match(CERTIFICATE) ?? []).join('\n')
    if (!certPem) throw new ConfigError(`${location.key}=${location.value}: no PEM certificate in the file (a PEM keystore holds the key and the certificate chain)`)
    keyFrom = location.key
  } else if (chain.value || inlineKey.value) {
    if (!chain.value) throw new ConfigError(`${need}: ${inlineKey.key} is set but ${chain.key} is not`)
    if (!inlineKey.value) throw new ConfigError(`${need}: ${chain.key} is set but ${inlineKey.key} is not`)
    keyPem = inlineKey.value
    certPem = chain.value
    keyFrom = `${chain.key} / ${inlineKey.key}`
  } else {
    throw new ConfigError(`${need} but has no key and certificate: set ssl.keystore.location (or listener.name.${listener.toLowerCase()}.ssl.keystore.location) to a PEM file with the key and chain, or ssl.keystore.certificate.chain and ssl.keystore.key`)
  }

  const trustLocation = get('ssl.truststore.location')
  const trustInline = get('ssl.truststore.certificates')
  let ca: string | undefined
  if (trustLocation.value) {
    ca = readPem(trustLocation.value, trustLocation.key)
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${trustLocation.key}=${trustLocation.value}: no PEM certificate in the file`)
  } else if (trustInline.value) {
    ca = trustInline.value
  }

  const authValue = get('ssl.client.auth')
  const clientAuth = (authValue.value ?? 'none') as ClientAuth
  // The CONTROLLER channel has no authentication of its own: on SSL it always asks for a client certificate.
  const effectiveAuth: ClientAuth = isController ? 'required' : clientAuth
  if (effectiveAuth !== 'none' && !ca) {
    throw new ConfigError(`${need} with ssl.client.auth=${effectiveAuth}${isController ? ' (always, on a controller listener)' : ''} but has no truststore to verify client certificates: set ssl.truststore.location`)
  }

  const protocols = (get('ssl.enabled.protocols').value ?? 'TLSv1.2,TLSv1.3').split(',').map((s) => s.trim()).filter(Boolean)
  const versions = protocols.filter((p): p is 'TLSv1.2' | 'TLSv1.3' => p === 'TLSv1.2' || p === 'TLSv1.3')
  if (versions.length !== protocols.length || versions.length === 0) {
    throw new ConfigError(`${get('ssl.enabled.protocols').key}=${protocols.join(',')}: expected TLSv1.2 and/or TLSv1.3`)
  }
  const minVersion: SecureVersion = versions.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3'
  const maxVersion: SecureVersion = versions.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2'
  const passphrase = get('ssl.key.password').value ?? undefined
  const context = { key: keyPem, cert: certPem, ca, passphrase, minVersion, maxVersion }
  try {
    createSecureContext(context)
  } catch (e) {
    throw new ConfigError(`${keyFrom}: the key and certificate of listener ${listener} cannot be used: ${(e as Error).message}`)
  }
  const ident = get('ssl.endpoint.identification.algorithm').value
  return { context, clientAuth: effectiveAuth, verifyHostname: ident === null || ident.toLowerCase() === 'https' }
}

/** Options of a TLS server for the listener: certificates are asked for unless client auth is none, and a
 *  presented certificate that does not verify is refused in both requested and required modes (as Kafka). */
export function tlsServerOptions(t: TlsSettings): TlsOptions {
  return {
    ...t.context,
    requestCert: t.clientAuth !== 'none',
    rejectUnauthorized: t.clientAuth === 'required',
    // A peer that stalls mid-handshake holds a socket only this long.
    handshakeTimeout: 10_000,
  }
}

/** Options of a TLS client (a broker dialling another one): our certificate, the truststore, host checks. */
export function tlsClientOptions(t: TlsSettings): ConnectionOptions {
  return {
    ...t.context,
    rejectUnauthorized: true,
    ...(t.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
  }
}

/**
 * Kafka's DEFAULT ssl.principal.mapping.rules: `User:` + the subject DN in RFC 2253 form (most specific RDN
 * first, as X500Principal.getName()). Node gives the subject one RDN per line in certificate order, with
 * RFC 2253 escaping already applied, so reversing the lines is the conversion.
 */
export function principalFromSubject(subject: string): string {
  const rdns = subject.split('\n').filter(Boolean).reverse()
  return `User:${rdns.map((r) => r.replace(/ \+ /g, '+')).join(',')}`
}
