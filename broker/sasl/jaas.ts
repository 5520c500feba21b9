// Kafka's sasl.jaas.config values: `<LoginModule class> <flag> key="value" key=value ...;`. A broker reads
// its PLAIN users from user_<name>="password" options (PlainServerCallbackHandler) and its own credentials
// for inter-broker SASL from username= and password=.

export interface JaasEntry {
  readonly loginModule: string
  readonly flag: string
  readonly options: ReadonlyMap<string, string>
}

const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional'])

/** Parses one JAAS entry; returns a message saying what is wrong instead of throwing. */
export function parseJaas(text: string): JaasEntry | string {
  const src = text.trim()
  const head = /^([A-Za-z_$][\w$.]*)\s+([A-Za-z]+)\s*/.exec(src)
  if (!head) return 'expected "<LoginModule class> required key=\\"value\\" ...;"'
  if (!FLAGS.has(head[2]!.toLowerCase())) return `unknown control flag ${JSON.stringify(head[2])}; expected required, requisite, sufficient or optional`
  const options = new Map<string, string>()
  let rest = src.slice(head[0].length)
  const option = /^([A-Za-z_][\w.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";]+))\s*/
  for (;;) {
    if (rest.startsWith(';')) {
      if (rest.slice(1).trim() !== '') return 'only one login module entry is supported'
      break
    }
    if (rest === '') return 'the entry must end with ";"'
    const m = option.exec(rest)
    if (!m) return `cannot parse the options at ${JSON.stringify(rest.slice(0, 30))}: expected key="value"`
    options.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!)
    rest = rest.slice(m[0].length)
  }
  return { loginModule: head[1]!, flag: head[2]!.toLowerCase(), options }
}

export const PLAIN_LOGIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule'
export const SCRAM_LOGIN_MODULE = 'org.apache.kafka.common.security.scram.ScramLoginModule'

/** user_<name>="password" options: the PLAIN users a broker accepts. */
export function plainUsers(entry: JaasEntry): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of entry.options) if (k.startsWith('user_') && k.length > 5) out.set(k.slice(5), v)
  return out
}
