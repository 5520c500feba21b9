// `faultline acls add|list|delete`: the ACLs of a cluster, through CreateAcls, DescribeAcls and DeleteAcls, as
// Kafka's `kafka-acls --add|--list|--remove`. Connection flags are `faultline users`'.

import { errorName } from '../../broker/protocol/errors.ts'
import { CreateAcls } from '../../broker/protocol/messages/create-acls.ts'
import { DeleteAcls } from '../../broker/protocol/messages/delete-acls.ts'
import { DescribeAcls } from '../../broker/protocol/messages/describe-acls.ts'
import { AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType } from '../../broker/security/authorizer.ts'
import { connectionFromFlags, open } from './users.ts'

const OPERATIONS: Record<string, number> = Object.fromEntries(Object.entries(AclOperation).filter(([n]) => n !== 'UNKNOWN'))
const nameOf = (table: Record<string, number>, code: number) => Object.entries(table).find(([, c]) => c === code)?.[0] ?? `UNKNOWN(${code})`

export const ACLS_USAGE = [
  'faultline acls add --principal User:NAME --operation OP[,OP...] (--topic T | --group G | --transactional-id T | --cluster) [--prefixed] [--deny] [--host H] --bootstrap HOST:PORT',
  '       faultline acls list [--principal P] [--topic T | --group G | --transactional-id T | --cluster] --bootstrap HOST:PORT',
  '       faultline acls delete [--principal P] [--operation OP] [--topic T | --group G | --transactional-id T | --cluster] [--prefixed] [--deny] --bootstrap HOST:PORT',
  `  operations: ${Object.keys(OPERATIONS).filter((o) => o !== 'ANY').join(', ')}`,
  '  connecting: as `faultline users` (--security-protocol, --ca, --sasl-mechanism, --sasl-username, --sasl-password)',
].join('\n')

/** The CLI: returns the exit code (0 done, 1 the broker refused, 2 bad input). */
export async function aclsCommand(args: readonly string[], v: Record<string, string | undefined>, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [action] = args
  const fail = (msg: string) => {
    err(`faultline acls: ${msg}\nusage: ${ACLS_USAGE}`)
    return 2
  }
  const c = connectionFromFlags(v)
  if (typeof c === 'string') return fail(c)
  const resources: [number, string][] = []
  if (v.topic !== undefined) resources.push([ResourceType.TOPIC, v.topic])
  if (v.group !== undefined) resources.push([ResourceType.GROUP, v.group])
  if (v['transactional-id'] !== undefined) resources.push([ResourceType.TRANSACTIONAL_ID, v['transactional-id']])
  if (v.cluster !== undefined) resources.push([ResourceType.CLUSTER, CLUSTER_NAME])
  if (resources.length > 1) return fail('name one resource: --topic, --group, --transactional-id or --cluster')
  const [resourceType, resourceName]: [number, string | null] = resources[0] ?? [ResourceType.ANY, null]
  const ops = (v.operation ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
  const badOp = ops.find((o) => !(o in OPERATIONS))
  if (badOp) return fail(`--operation ${badOp}: expected one of ${Object.keys(OPERATIONS).join(', ')}`)
  const patternType = v.prefixed !== undefined ? PatternType.PREFIXED : PatternType.LITERAL
  const permissionType = v.deny !== undefined ? Permission.DENY : Permission.ALLOW
  const conn = await open(c).catch((e: Error) => e)
  if (conn instanceof Error) {
    err(`faultline acls: ${conn.message}`)
    return 1
  }
  try {
    if (action === 'add') {
      if (!v.principal || ops.length === 0 || resourceName === null) return fail('add needs --principal, --operation and a resource')
      const creations = ops.map((o) => ({ resourceType, resourceName, resourcePatternType: patternType, principal: v.principal!, host: v.host ?? '*', operation: OPERATIONS[o]!, permissionType }))
      const r = await conn.call(CreateAcls, { creations })
      const bad = r.results.find((x) => x.errorCode !== 0)
      if (bad) {
        err(`faultline acls: ${errorName(bad.errorCode)}${bad.errorMessage ? `: ${bad.errorMessage}` : ''}`)
        return 1
      }
      out(`added ${creations.length} ACL(s) for ${v.principal}`)
      return 0
    }
    if (action === 'list' || action === 'delete') {
      if (ops.length > 1) return fail(`${action} takes at most one --operation`)
      const filter = {
        resourceTypeFilter: resourceType,
        resourceNameFilter: resourceName,
        patternTypeFilter: action === 'list' ? PatternType.ANY : patternType,
        principalFilter: v.principal ?? null,
        hostFilter: v.host ?? null,
        operation: ops.length === 1 ? OPERATIONS[ops[0]!]! : AclOperation.ANY,
        permissionType: action === 'list' ? Permission.ANY : permissionType,
      }
      const line = (a: { resourceType: number; resourceName: string; patternType: number; principal: string; host: string; operation: number; permissionType: number }) =>
        `${nameOf(ResourceType, a.resourceType)}:${nameOf(PatternType, a.patternType)}:${a.resourceName}\t${a.principal}\t${a.host}\t${nameOf(AclOperation, a.operation)}\t${nameOf(Permission, a.permissionType)}`
      if (action === 'list') {
        const r = await conn.call(DescribeAcls, filter)
        if (r.errorCode !== 0) {
          err(`faultline acls: ${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`)
          return 1
        }
        for (const res of r.resources) for (const a of res.acls) out(line({ ...res, ...a }))
        return 0
      }
      const r = await conn.call(DeleteAcls, { filters: [filter] })
      const f = r.filterResults[0]
      if (!f || f.errorCode !== 0) {
        err(`faultline acls: ${f ? `${errorName(f.errorCode)}${f.errorMessage ? `: ${f.errorMessage}` : ''}` : 'no result'}`)
        return 1
      }
      for (const a of f.matchingAcls) out(`deleted ${line(a)}`)
      return 0
    }
    return fail(`unknown action ${JSON.stringify(action ?? '')}; expected add, list or delete`)
  } catch (e) {
    err(`faultline acls: ${(e as Error).message}`)
    return 1
  } finally {
    conn.close()
  }
}
