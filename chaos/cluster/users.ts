// `faultline users add|delete|list`: SCRAM users of a cluster, through AlterUserScramCredentials and
// DescribeUserScramCredentials (KIP-554), as Kafka's `kafka-configs --alter --add-config SCRAM-SHA-256=[...]`.
// The salted password is computed here (PBKDF2 over a random salt); the password never leaves this process.

import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errorName } from '../../broker/protocol/errors.ts'
import { AlterUserScramCredentials } from '../../broker/protocol/messages/alter-user-scram-credentials.ts'
import { DescribeUserScramCredentials } from '../../broker/protocol/messages/describe-user-scram-credentials.ts'
import { saslMechanisms, silentLogger, type SaslMechanism, type SaslOptions, type TlsOptions } from '../../workloads/driver.ts'
import { RawConnection } from '../../workloads/drivers/raw/connection.ts'

export type ScramName = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
const SCRAM: Readonly<Record<ScramName, { type: number; hash: 'sha256' | 'sha512'; bytes: number }>> = {
  'SCRAM-SHA-256': { type: 1, hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { type: 2, hash: 'sha512', bytes: 64 },
}
const NAME_OF_TYPE = new Map(Object.entries(SCRAM).map(([n, s]) => [s.type, n]))

export class UsersError extends Error {
  readonly code = 'ERR_FAULTLINE_USERS'
}

export interface UsersConnection {
  /** host:port of one broker. */
  readonly bootstrap: string
  readonly sasl?: SaslOptions
  readonly tls?: TlsOptions | true
}

export async function open(c: UsersConnection): Promise<RawConnection> {
  const m = /^(.+):(\d+)$/.exec(c.bootstrap)
  if (!m) throw new UsersError(`--bootstrap ${JSON.stringify(c.bootstrap)}: expected host:port`)
  const conn = new RawConnection(m[1]!.replace(/^\[|\]$/g, ''), Number(m[2]), {
    clientId: 'faultline-users',
    tls: c.tls,
    sasl: c.sasl,
    requestTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
    window: 1,
    logger: silentLogger,
  })
  await conn.open()
  return conn
}

export interface UserResult {
  readonly user: string
  readonly errorCode: number
  readonly errorMessage: string | null
}

/** Adds (or replaces) the user's credentials for each mechanism. */
export async function addUser(c: UsersConnection, user: string, password: string, mechanisms: readonly ScramName[], iterations = 4096): Promise<UserResult> {
  const conn = await open(c)
  try {
    const upsertions = mechanisms.map((m) => {
      const salt = randomBytes(32)
      const s = SCRAM[m]
      return { name: user, mechanism: s.type, iterations, salt, saltedPassword: pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, s.bytes, s.hash) }
    })
    const r = await conn.call(AlterUserScramCredentials, { deletions: [], upsertions })
    return r.results[0] ?? { user, errorCode: -1, errorMessage: 'no result' }
  } finally {
    conn.close()
  }
}

/** Deletes the user's credentials for each mechanism. */
export async function deleteUser(c: UsersConnection, user: string, mechanisms: readonly ScramName[]): Promise<UserResult> {
  const conn = await open(c)
  try {
    const r = await conn.call(AlterUserScramCredentials, { deletions: mechanisms.map((m) => ({ name: user, mechanism: SCRAM[m].type })), upsertions: [] })
    return r.results[0] ?? { user, errorCode: -1, errorMessage: 'no result' }
  } finally {
    conn.close()
  }
}

export interface UserListing {
  readonly user: string
  readonly credentials: readonly { mechanism: string; iterations: number }[]
}

export async function listUsers(c: UsersConnection, users: readonly string[] = []): Promise<UserListing[]> {
  const conn = await open(c)
  try {
    const r = await conn.call(DescribeUserScramCredentials, { users: users.length > 0 ? users.map((name) => ({ name })) : null })
    if (r.errorCode !== 0) throw new UsersError(`DescribeUserScramCredentials: ${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`)
    const bad = r.results.find((x) => x.errorCode !== 0)
    if (bad) throw new UsersError(`user ${bad.user}: ${errorName(bad.errorCode)}${bad.errorMessage ? `: ${bad.errorMessage}` : ''}`)
    return r.results.map((x) => ({ user: x.user, credentials: x.credentialInfos.map((i) => ({ mechanism: NAME_OF_TYPE.get(i.mechanism) ?? `unknown(${i.mechanism})`, iterations: i.iterations })) }))
  } finally {
    conn.close()
  }
}

export const USERS_USAGE = [
  'faultline users add NAME --password PW --bootstrap HOST:PORT [--mechanism SCRAM-SHA-256,SCRAM-SHA-512] [--iterations 4096]',
  '       faultline users delete NAME --bootstrap HOST:PORT [--mechanism SCRAM-SHA-256,SCRAM-SHA-512]',
  '       faultline users list [NAME...] --bootstrap HOST:PORT',
  '  connecting: [--security-protocol PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL] [--ca FILE]',
  '              [--sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 --sasl-username U --sasl-password P]',
  '  --password-file FILE reads the new password from a file instead of --password.',
].join('\n')

/** The connection flags shared by the cluster-admin commands (users, acls): a connection, or what is wrong. */
export function connectionFromFlags(v: Record<string, string | undefined>): UsersConnection | string {
  if (!v.bootstrap) return '--bootstrap HOST:PORT is required'
  const protocol = (v['security-protocol'] ?? 'PLAINTEXT').toUpperCase()
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol)) return `--security-protocol ${protocol}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`
  let sasl: SaslOptions | undefined
  if (protocol.startsWith('SASL_')) {
    const mech = v['sasl-mechanism'] ?? ''
    if (!(saslMechanisms as readonly string[]).includes(mech)) return `--sasl-mechanism ${JSON.stringify(mech)}: expected one of ${saslMechanisms.join(', ')} with --security-protocol ${protocol}`
    if (!v['sasl-username'] || v['sasl-password'] === undefined) return `--sasl-username and --sasl-password are required with --security-protocol ${protocol}`
    sasl = { mechanism: mech as SaslMechanism, username: v['sasl-username'], password: v['sasl-password'] }
  }
  let tls: TlsOptions | true | undefined
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    try {
      tls = v.ca ? { ca: readFileSync(v.ca) } : true
    } catch (e) {
      return `--ca ${v.ca}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`
    }
  }
  return { bootstrap: v.bootstrap, sasl, tls }
}

/** The CLI: returns the exit code (0 done, 1 the broker refused, 2 bad input). */
export async function usersCommand(args: readonly string[], v: Record<string, string | undefined>, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [action, ...names] = args
  const fail = (msg: string) => {
    err(`faultline users: ${msg}\nusage: ${USERS_USAGE}`)
    return 2
  }
  const conn = connectionFromFlags(v)
  if (typeof conn === 'string') return fail(conn)
  const mechanisms = (v.mechanism ?? 'SCRAM-SHA-256,SCRAM-SHA-512').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
  const unknown = mechanisms.find((m) => !(m in SCRAM))
  if (unknown || mechanisms.length === 0) return fail(`--mechanism ${v.mechanism}: expected SCRAM-SHA-256 and/or SCRAM-SHA-512`)
  const c = conn
  const report = (r: UserResult, what: string) => {
    if (r.errorCode === 0) {
      out(`${what} ${r.user} (${mechanisms.join(', ')})`)
      return 0
    }
    err(`faultline users: ${r.user}: ${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`)
    return 1
  }
  try {
    if (action === 'add') {
      if (names.length !== 1) return fail('add takes one user name')
      let password = v.password
      if (v['password-file']) {
        try {
          password = readFileSync(v['password-file'], 'utf8').replace(/\r?\n$/, '')
        } catch (e) {
          return fail(`--password-file ${v['password-file']}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
        }
      }
      if (!password) return fail('add needs --password or --password-file')
      const iterations = Number(v.iterations ?? '4096')
      if (!Number.isInteger(iterations) || iterations < 4096 || iterations > 16384) return fail(`--iterations ${v.iterations}: expected an integer in 4096..16384`)
      return report(await addUser(c, names[0]!, password, mechanisms as ScramName[], iterations), 'added')
    }
    if (action === 'delete') {
      if (names.length !== 1) return fail('delete takes one user name')
      return report(await deleteUser(c, names[0]!, mechanisms as ScramName[]), 'deleted')
    }
    if (action === 'list') {
      for (const u of await listUsers(c, names)) out(`${u.user}\t${u.credentials.map((x) => `${x.mechanism}(iterations=${x.iterations})`).join(' ')}`)
      return 0
    }
    return fail(`unknown action ${JSON.stringify(action ?? '')}; expected add, delete or list`)
  } catch (e) {
    if (e instanceof UsersError) {
      err(`faultline users: ${e.message}`)
      return 1
    }
    err(`faultline users: ${(e as Error).message}`)
    return 1
  }
}
