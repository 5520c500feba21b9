// A local cluster's security, as a scenario declares it (cluster.security): the certificates (a CA of the run's
// own, one per broker, one per client identity), the brokers' listener settings in Kafka's names, the users
// and ACLs created once the cluster is up, and the credentials the harness connects with. Security faults
// (revoke a user, remove ACLs) act through the same admin connection and put things back at heal.
//
// Shape: every broker has one listener for clients and replication, named after its protocol (SSL, SASL_PLAINTEXT
// or SASL_SSL, Kafka's default protocol map), so proxies and partitions see the same ports as without security;
// the CONTROLLER listener (several brokers) is SSL with client certificates required. Brokers authenticate to
// each other as `faultline-broker` and the harness's own setup (users, ACLs, topics, metadata it watches) runs as
// `faultline-admin`, both super users. Under SASL their mechanism is PLAIN with random passwords from the broker's
// JAAS entry: a SCRAM credential lives in the metadata log, so nobody could log in to create the first one
// (Kafka seeds it with `kafka-storage format --add-scram`). The listener therefore also offers PLAIN, for those
// two accounts only, unless the scenario's own mechanism is PLAIN. Under SSL, identities are certificates.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errorName } from '../../broker/protocol/errors.ts'
import { CreateAcls } from '../../broker/protocol/messages/create-acls.ts'
import { DeleteAcls } from '../../broker/protocol/messages/delete-acls.ts'
import { AclOperation, PatternType, Permission, ResourceType, CLUSTER_NAME } from '../../broker/security/authorizer.ts'
import type { ConnectOptions, SaslMechanism } from '../../workloads/driver.ts'
import type { SecurityFault } from '../faults.ts'
import type { SecurityFaults } from '../scheduler.ts'
import { makeCerts, type CertFiles } from './certs.ts'
import { addUser, deleteUser, open, type ScramName } from './users.ts'

export const SECURITY_PROTOCOLS = ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number]
export const ACL_RESOURCES = ['topic', 'group', 'cluster', 'transactionalId'] as const
export type AclResource = (typeof ACL_RESOURCES)[number]
export const ACL_OPERATIONS = ['ALL', 'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'CLUSTER_ACTION', 'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'IDEMPOTENT_WRITE'] as const
export type AclOperationName = (typeof ACL_OPERATIONS)[number]

/** One ACL rule as a scenario writes it (Kafka's AclBinding). */
export interface AclSpec {
  readonly principal: string
  readonly operation: AclOperationName
  readonly resource: AclResource
  /** The resource's name (kafka-cluster for the cluster). */
  readonly name: string
  readonly pattern: 'literal' | 'prefixed'
  readonly permission: 'allow' | 'deny'
  readonly host: string
}

/** Which of the declared ACLs a removeAcl fault takes away: every field given must match. */
export interface AclMatch {
  readonly principal?: string
  readonly operation?: AclOperationName
  readonly resource?: AclResource
  readonly name?: string
}

export interface SecuritySpec {
  readonly protocol: SecurityProtocol
  /** SASL_*: the clients' mechanism; null under SSL. */
  readonly mechanism: SaslMechanism | null
  /** SASL users (names and passwords), or under SSL the names of client certificates (CN). */
  readonly users: readonly { readonly name: string; readonly password: string }[]
  /** The identity the workload connects as (one of users). */
  readonly user: string
  /** With ACLs the authorizer is on (nothing is allowed that no ACL allows); null: no authorizer. */
  readonly acls: readonly AclSpec[] | null
}

export const BROKER_USER = 'faultline-broker'
export const ADMIN_USER = 'faultline-admin'
const PLAIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule'

const RESOURCE_TYPE: Record<AclResource, number> = { topic: ResourceType.TOPIC, group: ResourceType.GROUP, cluster: ResourceType.CLUSTER, transactionalId: ResourceType.TRANSACTIONAL_ID }

export function aclMatches(a: AclSpec, m: AclMatch): boolean {
  return (m.principal === undefined || m.principal === a.principal) && (m.operation === undefined || m.operation === a.operation) && (m.resource === undefined || m.resource === a.resource) && (m.name === undefined || m.name === a.name)
}

/** "principal User:alice, operation WRITE", or "all" for an empty match. */
export function describeAclMatch(m: AclMatch): string {
  const parts = Object.entries(m).map(([k, v]) => `${k} ${String(v)}`)
  return parts.length === 0 ? 'all' : parts.join(', ')
}

export function describeAcl(a: AclSpec): string {
  return `${a.permission} ${a.principal} ${a.operation} on ${a.resource} ${a.pattern === 'prefixed' ? `${a.name}*` : a.name}${a.host === '*' ? '' : ` from ${a.host}`}`
}

const certPrincipal = (subject: string): string =>
  `User:${subject
    .split('/')
    .filter(Boolean)
    .reverse()
    .join(',')}`

type Security = Pick<ConnectOptions, 'sasl' | 'tls'>

/** The first broker that answers: a fault may have taken some down. */
async function anyBroker<T>(bootstrap: readonly string[], fn: (address: string) => Promise<T>): Promise<T> {
  let last: unknown = new Error('no bootstrap address')
  for (const b of bootstrap) {
    try {
      return await fn(b)
    } catch (err) {
      last = err
    }
  }
  throw last
}

/** One line for the run's log: "security: SASL_SSL with SCRAM-SHA-512, 2 users (workload as alice), 3 ACLs". */
export function describeSecurity(spec: SecuritySpec): string {
  const who = spec.protocol === 'SSL' ? 'client certificate' : 'user'
  const acls = spec.acls === null ? 'no authorizer' : `authorizer with ${spec.acls.length} ACL(s)`
  return `security ${spec.protocol}${spec.mechanism ? ` with ${spec.mechanism}` : ''}, ${spec.users.length} ${who}(s) (the workload as ${spec.user}), ${acls}`
}

/** The fault scheduler's security faults, acting on this cluster. */
export function securityFaults(sec: ClusterSecurity, bootstrap: () => readonly string[]): SecurityFaults {
  return {
    async apply(f: SecurityFault) {
      if (f.kind === 'revokeUser') return { label: `user ${f.user} revoked`, undo: await sec.revokeUser(bootstrap(), f.user) }
      const { removed, undo } = await sec.removeAcls(bootstrap(), f.match)
      return { label: `removed ${removed.map(describeAcl).join('; ')}`, undo }
    },
  }
}

export class ClusterSecurity {
  readonly spec: SecuritySpec
  private readonly certs: CertFiles
  private readonly brokerPassword = randomBytes(24).toString('base64url')
  private readonly adminPassword = randomBytes(24).toString('base64url')

  /** How the harness's own setup and watchers connect: a super user. */
  readonly admin: Security
  /** How the workload's producers and consumers connect: the scenario's user. */
  readonly workload: Security

  private constructor(spec: SecuritySpec, certs: CertFiles) {
    this.spec = spec
    this.certs = certs
    const u = spec.users.find((x) => x.name === spec.user)!
    this.admin = { tls: this.tlsFor(ADMIN_USER), ...(this.sasl ? { sasl: { mechanism: 'PLAIN', username: ADMIN_USER, password: this.adminPassword } } : {}) }
    this.workload = { tls: this.tlsFor(u.name), ...(this.sasl ? { sasl: { mechanism: spec.mechanism!, username: u.name, password: u.password } } : {}) }
  }

  /** Makes the certificates under `dir` (openssl; a few seconds). */
  static prepare(spec: SecuritySpec, dir: string, brokers: number): ClusterSecurity {
    const clients = [ADMIN_USER, ...(spec.protocol === 'SSL' ? spec.users.map((u) => u.name) : [])]
    return new ClusterSecurity(spec, makeCerts({ dir, brokers, clients }))
  }

  /** The client listener's name: its protocol, so Kafka's default listener.security.protocol.map applies. */
  get listenerName(): string {
    return this.spec.protocol
  }

  private get sasl(): boolean {
    return this.spec.protocol !== 'SSL'
  }

  private get tls(): boolean {
    return this.spec.protocol !== 'SASL_PLAINTEXT'
  }

  private principals(): string[] {
    if (!this.sasl) return [certPrincipal(this.certs.entries[`client-${ADMIN_USER}`]!.subject)]
    return [`User:${BROKER_USER}`, `User:${ADMIN_USER}`]
  }

  /** Broker config overrides for node `id` (Kafka names). */
  brokerConfig(id: number, brokers: number): Record<string, string> {
    const l = this.listenerName.toLowerCase()
    const brokerCerts = Array.from({ length: brokers }, (_, i) => certPrincipal(this.certs.entries[`broker-${i + 1}`]!.subject))
    const out: Record<string, string> = {
      'listener.security.protocol.map': `${this.listenerName}:${this.spec.protocol},CONTROLLER:SSL`,
      'inter.broker.listener.name': this.listenerName,
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': this.certs.entries[`broker-${id}`]!.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': this.certs.ca,
      'listener.name.controller.ssl.client.auth': 'required',
      'super.users': [...brokerCerts, ...this.principals()].join(';'),
    }
    if (this.spec.protocol === 'SSL') out[`listener.name.${l}.ssl.client.auth`] = 'required'
    if (this.sasl) {
      const mechanism = this.spec.mechanism!
      out['sasl.enabled.mechanisms'] = mechanism === 'PLAIN' ? 'PLAIN' : `${mechanism},PLAIN`
      out['sasl.mechanism.inter.broker.protocol'] = 'PLAIN'
      const plainUsers = [[BROKER_USER, this.brokerPassword], [ADMIN_USER, this.adminPassword], ...(mechanism === 'PLAIN' ? this.spec.users.map((u) => [u.name, u.password]) : [])]
      out[`listener.name.${l}.plain.sasl.jaas.config`] =
        `${PLAIN_MODULE} required username="${BROKER_USER}" password="${this.brokerPassword}" ${plainUsers.map(([n, p]) => `user_${n}="${p}"`).join(' ')};`
    }
    if (this.spec.acls !== null) {
      out['authorizer.class.name'] = 'faultline'
      out['allow.everyone.if.no.acl.found'] = 'false'
    }
    return out
  }

  private tlsFor(client: string): Security['tls'] {
    if (!this.tls) return undefined
    const ca = readFileSync(this.certs.ca, 'utf8')
    if (this.sasl) return { ca }
    const e = this.certs.entries[`client-${client}`]!
    return { ca, cert: readFileSync(e.cert, 'utf8'), key: readFileSync(e.key, 'utf8') }
  }


  /** The scenario's user as a principal, as ACLs name it. */
  principalOf(user: string): string {
    return this.sasl ? `User:${user}` : certPrincipal(this.certs.entries[`client-${user}`]!.subject)
  }

  private scram(): ScramName | null {
    const m = this.spec.mechanism
    return m === 'SCRAM-SHA-256' || m === 'SCRAM-SHA-512' ? m : null
  }

  /** Once the brokers are up: SCRAM users, then ACLs. Returns what it did, for the run's log. */
  async setup(bootstrap: readonly string[]): Promise<string[]> {
    const done: string[] = []
    const scram = this.scram()
    if (scram) {
      for (const u of this.spec.users) {
        const r = await anyBroker(bootstrap, (b) => addUser({ bootstrap: b, ...this.admin }, u.name, u.password, [scram]))
        if (r.errorCode !== 0) throw new Error(`adding SCRAM user ${u.name}: ${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`)
      }
      done.push(`${this.spec.users.length} ${scram} user(s)`)
    }
    if (this.spec.acls !== null && this.spec.acls.length > 0) {
      await this.createAcls(bootstrap, this.spec.acls)
      done.push(`${this.spec.acls.length} ACL(s)`)
    }
    return done
  }

  /** revokeUser: deletes the user's SCRAM credential; the undo adds it back with the same password. */
  async revokeUser(bootstrap: readonly string[], user: string): Promise<() => Promise<void>> {
    const scram = this.scram()
    if (!scram) throw new Error(`users can be revoked under SCRAM only (mechanism ${this.spec.mechanism ?? 'none'})`)
    const u = this.spec.users.find((x) => x.name === user)
    if (!u) throw new Error(`${user} is not one of cluster.security.users`)
    const r = await anyBroker(bootstrap, (b) => deleteUser({ bootstrap: b, ...this.admin }, user, [scram]))
    if (r.errorCode !== 0) throw new Error(`deleting ${user}: ${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`)
    return async () => {
      const back = await anyBroker(bootstrap, (b) => addUser({ bootstrap: b, ...this.admin }, u.name, u.password, [scram]))
      if (back.errorCode !== 0) throw new Error(`restoring ${user}: ${errorName(back.errorCode)}${back.errorMessage ? `: ${back.errorMessage}` : ''}`)
    }
  }

  /** removeAcl: deletes the declared ACLs that match; the undo creates them again. */
  async removeAcls(bootstrap: readonly string[], match: AclMatch): Promise<{ removed: AclSpec[]; undo: () => Promise<void> }> {
    const removed = (this.spec.acls ?? []).filter((a) => aclMatches(a, match))
    if (removed.length === 0) throw new Error('no ACL of cluster.security.acls matches')
    const conn = await anyBroker(bootstrap, (b) => open({ bootstrap: b, ...this.admin }))
    try {
      const filters = removed.map((a) => {
        const b = this.binding(a)
        return { resourceTypeFilter: b.resourceType, resourceNameFilter: b.resourceName, patternTypeFilter: b.resourcePatternType, principalFilter: b.principal, hostFilter: b.host, operation: b.operation, permissionType: b.permissionType }
      })
      const r = await conn.call(DeleteAcls, { filters })
      const bad = r.filterResults.find((f) => f.errorCode !== 0)
      if (bad) throw new Error(`DeleteAcls: ${errorName(bad.errorCode)}${bad.errorMessage ? `: ${bad.errorMessage}` : ''}`)
    } finally {
      conn.close()
    }
    return { removed, undo: () => this.createAcls(bootstrap, removed) }
  }

  private binding(a: AclSpec) {
    return {
      resourceType: RESOURCE_TYPE[a.resource],
      resourceName: a.resource === 'cluster' ? CLUSTER_NAME : a.name,
      resourcePatternType: a.pattern === 'prefixed' ? PatternType.PREFIXED : PatternType.LITERAL,
      principal: a.principal,
      host: a.host,
      operation: AclOperation[a.operation],
      permissionType: a.permission === 'deny' ? Permission.DENY : Permission.ALLOW,
    }
  }

  private async createAcls(bootstrap: readonly string[], acls: readonly AclSpec[]): Promise<void> {
    const conn = await anyBroker(bootstrap, (b) => open({ bootstrap: b, ...this.admin }))
    try {
      const r = await conn.call(CreateAcls, { creations: acls.map((a) => this.binding(a)) })
      const bad = r.results.find((x) => x.errorCode !== 0)
      if (bad) throw new Error(`CreateAcls: ${errorName(bad.errorCode)}${bad.errorMessage ? `: ${bad.errorMessage}` : ''}`)
    } finally {
      conn.close()
    }
  }
}
