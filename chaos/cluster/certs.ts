// `faultline certs DIR`: a test CA and broker and client certificates (PEM) for SSL listeners.
//
// Made with the openssl CLI: node:crypto generates keys but cannot build or sign an X.509 certificate (Node 20
// has no certificate or CSR builder), and openssl is on every machine that has kcat or librdkafka. EC P-256
// keys: quick to make, and accepted by Node, librdkafka and Java.
//
// Files, per name (broker-1, client-alice): NAME.key (PKCS#8 key), NAME.crt (its certificate), NAME.pem (key +
// certificate + CA: a PEM keystore for ssl.keystore.location); ca.pem is the truststore, ca.key signs. An
// existing CA in DIR is reused, so certificates made later still chain to it. Certificates carry both server
// and client use: a broker presents its certificate when it dials another broker.

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'

export interface CertsOptions {
  readonly dir: string
  readonly brokers?: number
  readonly clients?: readonly string[]
  /** Subject alternative names of the broker certificates (addresses or DNS names); default: localhost and
   *  every 127.0.0.x, the addresses the local backend gives brokers. */
  readonly hosts?: readonly string[]
  readonly days?: number
}

export interface CertFiles {
  readonly ca: string
  readonly caKey: string
  /** By name (broker-N, client-NAME): key, certificate and keystore (key + chain) paths. */
  readonly entries: Readonly<Record<string, { key: string; cert: string; keystore: string; subject: string }>>
}

export class CertsError extends Error {
  readonly code = 'ERR_FAULTLINE_CERTS'
  constructor(message: string) {
    super(message)
    this.name = 'CertsError'
  }
}

export const DEFAULT_HOSTS: readonly string[] = ['localhost', ...Array.from({ length: 254 }, (_, i) => `127.0.0.${i + 1}`)]

function openssl(args: string[], dir: string): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (r.error) throw new CertsError(`cannot run openssl (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); faultline certs needs the openssl command`)
  if (r.status !== 0) throw new CertsError(`openssl ${args[0]} failed: ${r.stderr.trim()}`)
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

export function makeCerts(opts: CertsOptions): CertFiles {
  const brokers = opts.brokers ?? 3
  if (!Number.isInteger(brokers) || brokers < 0) throw new CertsError(`--brokers ${brokers}: expected a whole number >= 0`)
  const clients = opts.clients ?? []
  for (const c of clients) if (!/^[A-Za-z0-9_.-]+$/.test(c)) throw new CertsError(`--clients: ${JSON.stringify(c)} is not a name (letters, digits, _ . -)`)
  const hosts = opts.hosts ?? DEFAULT_HOSTS
  for (const h of hosts) if (!isIP(h) && !/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h)) throw new CertsError(`--hosts: ${JSON.stringify(h)} is neither an address nor a DNS name`)
  const days = String(opts.days ?? 825)
  const dir = opts.dir
  mkdirSync(dir, { recursive: true })
  const ca = join(dir, 'ca.pem')
  const caKey = join(dir, 'ca.key')
  if (!existsSync(ca) || !existsSync(caKey)) {
    openssl(['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', days, '-subj', '/O=faultline/CN=faultline test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  }
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',')
  const entries: Record<string, { key: string; cert: string; keystore: string; subject: string }> = {}
  const leaf = (name: string, subject: string, withSan: boolean) => {
    const ext = join(dir, `${name}.ext`)
    writeFileSync(ext, [`basicConstraints=CA:FALSE`, `keyUsage=critical,digitalSignature,keyEncipherment`, `extendedKeyUsage=serverAuth,clientAuth`, ...(withSan ? [`subjectAltName=${san}`] : [])].join('\n') + '\n')
    try {
      openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir)
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', days, '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir)
    } finally {
      rmSync(ext, { force: true })
      rmSync(join(dir, `${name}.csr`), { force: true })
    }
    const key = join(dir, `${name}.key`)
    const cert = join(dir, `${name}.crt`)
    const keystore = join(dir, `${name}.pem`)
    writeFileSync(keystore, readFileSync(key, 'utf8') + readFileSync(cert, 'utf8') + readFileSync(ca, 'utf8'), { mode: 0o600 })
    entries[name] = { key, cert, keystore, subject }
  }
  for (let id = 1; id <= brokers; id++) leaf(`broker-${id}`, `/O=faultline/OU=brokers/CN=broker-${id}`, true)
  for (const c of clients) leaf(`client-${c}`, `/O=faultline/OU=clients/CN=${c}`, false)
  return { ca, caKey, entries }
}

/** The CLI: prints what it made. */
export function certsCommand(dir: string | undefined, flags: { brokers?: string; clients?: string; hosts?: string }): number {
  if (!dir) {
    process.stderr.write('faultline certs: which directory? faultline certs DIR [--brokers N] [--clients a,b] [--hosts h1,h2]\n')
    return 2
  }
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean))
  try {
    const brokers = flags.brokers === undefined ? undefined : /^\d+$/.test(flags.brokers) ? Number(flags.brokers) : NaN
    if (Number.isNaN(brokers)) throw new CertsError(`--brokers ${flags.brokers}: expected a whole number >= 0`)
    const out = makeCerts({ dir, brokers, clients: list(flags.clients), hosts: list(flags.hosts) })
    process.stdout.write(`CA (truststore, ssl.truststore.location / ssl.ca.location): ${out.ca}\n`)
    for (const [name, e] of Object.entries(out.entries)) process.stdout.write(`${name}: keystore ${e.keystore}, key ${e.key}, certificate ${e.cert}\n`)
    return 0
  } catch (err) {
    if (err instanceof CertsError) {
      process.stderr.write(`faultline certs: ${err.message}\n`)
      return err.message.startsWith('cannot run openssl') || err.message.startsWith('openssl') ? 3 : 2
    }
    throw err
  }
}
