// The built-in authorizer: Kafka's ACL model and decision rules (StandardAuthorizer), over the ACLs of the
// metadata image. Codes are Kafka's (AclOperation, ResourceType, PatternType, AclPermissionType), so the wire
// values of CreateAcls/DescribeAcls/DeleteAcls pass through unchanged.
//
// A decision for (principal, host, operation, resource):
// * a super user is allowed everything;
// * the ACLs that apply to the resource are the LITERAL ones with its name or `*` and the PREFIXED ones whose
//   name starts it; none at all: allowed only with allow.everyone.if.no.acl.found;
// * a DENY of the operation (or ALL) for the principal (or User:*) from the host (or *) denies, whatever allows;
// * else an ALLOW allows: of the operation, of ALL, or of an operation that implies it (READ, WRITE, DELETE and
//   ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS). Implications never widen a DENY.

export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const
export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const
export const Permission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const

export const CLUSTER_NAME = 'kafka-cluster'
export const WILDCARD = '*'
export const WILDCARD_PRINCIPAL = 'User:*'

/** One ACL as stored (Kafka's AclBinding: a resource pattern and an access control entry). */
export interface Acl {
  readonly resourceType: number
  readonly resourceName: string
  readonly patternType: number
  readonly principal: string
  readonly host: string
  readonly operation: number
  readonly permissionType: number
}

/** The operations each resource type has (Kafka's per-resource operation lists; authorized-operations fields). */
export const RESOURCE_OPERATIONS: Readonly<Record<number, readonly number[]>> = {
  [ResourceType.TOPIC]: [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS],
  [ResourceType.GROUP]: [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE],
  [ResourceType.CLUSTER]: [
    AclOperation.CREATE,
    AclOperation.CLUSTER_ACTION,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE,
  ],
  [ResourceType.TRANSACTIONAL_ID]: [AclOperation.DESCRIBE, AclOperation.WRITE],
}

/** Kafka's authorizedOperations bit field: bit n set when operation n is allowed. */
export function operationsBitField(ops: readonly number[]): number {
  let bits = 0
  for (const op of ops) bits |= 1 << op
  return bits
}

/** The operations whose ALLOW grants `op` (besides ALL). */
function allowingOperations(op: number): readonly number[] {
  if (op === AclOperation.DESCRIBE) return [AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]
  if (op === AclOperation.DESCRIBE_CONFIGS) return [AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]
  return [op]
}

export interface AuthorizerSettings {
  /** Principals allowed everything (super.users, semicolon-separated in the config). */
  readonly superUsers: ReadonlySet<string>
  /** allow.everyone.if.no.acl.found */
  readonly allowEveryoneIfNoAclFound: boolean
}

export interface RequestPrincipal {
  readonly principal: string
  readonly host: string
}

/** Parses super.users: `User:a;User:b` (blank entries ignored). */
export function parseSuperUsers(value: string | null): Set<string> {
  return new Set((value ?? '').split(';').map((s) => s.trim()).filter((s) => s !== ''))
}

/** Whether a stored ACL's pattern covers the resource. */
export function patternCovers(acl: Pick<Acl, 'resourceType' | 'resourceName' | 'patternType'>, resourceType: number, name: string): boolean {
  if (acl.resourceType !== resourceType) return false
  if (acl.patternType === PatternType.LITERAL) return acl.resourceName === name || acl.resourceName === WILDCARD
  if (acl.patternType === PatternType.PREFIXED) return name.startsWith(acl.resourceName)
  return false
}

function entryApplies(acl: Acl, who: RequestPrincipal): boolean {
  return (acl.principal === who.principal || acl.principal === WILDCARD_PRINCIPAL) && (acl.host === who.host || acl.host === WILDCARD)
}

export class Authorizer {
  readonly #settings: AuthorizerSettings
  readonly #acls: () => readonly Acl[]

  /** `acls` gives the current ACLs (the metadata image's), read at every decision. */
  constructor(settings: AuthorizerSettings, acls: () => readonly Acl[]) {
    this.#settings = settings
    this.#acls = acls
  }

  isSuperUser(principal: string): boolean {
    return this.#settings.superUsers.has(principal)
  }

  authorize(who: RequestPrincipal, operation: number, resourceType: number, name: string): boolean {
    if (this.isSuperUser(who.principal)) return true
    const applying = this.#acls().filter((a) => patternCovers(a, resourceType, name))
    if (applying.length === 0) return this.#settings.allowEveryoneIfNoAclFound
    const mine = applying.filter((a) => entryApplies(a, who))
    if (mine.some((a) => a.permissionType === Permission.DENY && (a.operation === operation || a.operation === AclOperation.ALL))) return false
    const allowing = allowingOperations(operation)
    return mine.some((a) => a.permissionType === Permission.ALLOW && (a.operation === AclOperation.ALL || allowing.includes(a.operation)))
  }

  /** The operations of the resource type the principal may do on the resource (authorized-operations fields). */
  authorizedOperations(who: RequestPrincipal, resourceType: number, name: string): number[] {
    return (RESOURCE_OPERATIONS[resourceType] ?? []).filter((op) => this.authorize(who, op, resourceType, name))
  }

  /**
   * Whether the principal may do `operation` on some resource of the type (Kafka's authorizeByResourceType,
   * which InitProducerId uses for WRITE on any topic): an ALLOW on a pattern that no DENY of the principal
   * covers whole (a literal `*`, the same literal name, or a prefix of it).
   */
  authorizeAny(who: RequestPrincipal, operation: number, resourceType: number): boolean {
    if (this.isSuperUser(who.principal)) return true
    const ofType = this.#acls().filter((a) => a.resourceType === resourceType)
    if (ofType.length === 0) return this.#settings.allowEveryoneIfNoAclFound
    const mine = ofType.filter((a) => entryApplies(a, who))
    const denies = mine.filter((a) => a.permissionType === Permission.DENY && (a.operation === operation || a.operation === AclOperation.ALL))
    if (denies.some((d) => d.patternType === PatternType.LITERAL && d.resourceName === WILDCARD)) return false
    const allowing = allowingOperations(operation)
    return mine.some(
      (a) =>
        a.permissionType === Permission.ALLOW &&
        (a.operation === AclOperation.ALL || allowing.includes(a.operation)) &&
        !denies.some((d) => (d.patternType === PatternType.PREFIXED ? a.resourceName.startsWith(d.resourceName) : a.patternType === PatternType.LITERAL && d.resourceName === a.resourceName)),
    )
  }
}

/** Kafka's AclBindingFilter: null strings and ANY codes match everything; patternType MATCH matches the
 *  patterns that would apply to a resource of that name (LITERAL same or `*`, PREFIXED a prefix of it). */
export interface AclFilter {
  readonly resourceType: number
  readonly resourceName: string | null
  readonly patternType: number
  readonly principal: string | null
  readonly host: string | null
  readonly operation: number
  readonly permissionType: number
}

export function filterMatches(f: AclFilter, a: Acl): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== a.resourceType) return false
  if (f.patternType !== PatternType.ANY && f.patternType !== PatternType.MATCH && f.patternType !== a.patternType) return false
  if (f.resourceName !== null) {
    if (f.patternType === PatternType.MATCH) {
      if (a.patternType === PatternType.LITERAL && !(a.resourceName === f.resourceName || a.resourceName === WILDCARD)) return false
      if (a.patternType === PatternType.PREFIXED && !f.resourceName.startsWith(a.resourceName)) return false
    } else if (f.resourceName !== a.resourceName) return false
  }
  if (f.principal !== null && f.principal !== a.principal) return false
  if (f.host !== null && f.host !== a.host) return false
  if (f.operation !== AclOperation.ANY && f.operation !== a.operation) return false
  if (f.permissionType !== Permission.ANY && f.permissionType !== a.permissionType) return false
  return true
}

/** Why an ACL cannot be created (Kafka's AclControlManager.validateNewAcl), or null. */
export function invalidAcl(a: Acl): string | null {
  if (!([ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN, ResourceType.USER] as number[]).includes(a.resourceType)) return `Invalid resource type ${a.resourceType}`
  if (a.patternType !== PatternType.LITERAL && a.patternType !== PatternType.PREFIXED) return `Invalid pattern type ${a.patternType}`
  if (a.operation <= AclOperation.ANY || a.operation > AclOperation.DESCRIBE_TOKENS) return `Invalid operation ${a.operation}`
  if (a.permissionType !== Permission.ALLOW && a.permissionType !== Permission.DENY) return `Invalid permission type ${a.permissionType}`
  if (a.resourceName === '') return 'Resource name should not be empty'
  if (a.resourceType === ResourceType.CLUSTER && a.resourceName !== CLUSTER_NAME) return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`
  if (!/^[^:]+:.+$/.test(a.principal)) return `Could not parse principal from \`${a.principal}\` (no colon is found separating the principal type from the principal name)`
  if (a.host === '') return 'Host should not be empty'
  return null
}

/** Why a filter is refused (Kafka: UNKNOWN codes), or null. */
export function invalidFilter(f: AclFilter): string | null {
  if (f.resourceType === ResourceType.UNKNOWN || f.resourceType > ResourceType.USER) return `Invalid resource type filter ${f.resourceType}`
  if (f.patternType === PatternType.UNKNOWN || f.patternType > PatternType.PREFIXED) return `Invalid pattern type filter ${f.patternType}`
  if (f.operation === AclOperation.UNKNOWN || f.operation > AclOperation.DESCRIBE_TOKENS) return `Invalid operation filter ${f.operation}`
  if (f.permissionType === Permission.UNKNOWN || f.permissionType > Permission.ALLOW) return `Invalid permission type filter ${f.permissionType}`
  return null
}

/** The identity of an ACL: two equal ACLs are one (creating it again changes nothing, as in Kafka). */
export function aclKey(a: Acl): string {
  return JSON.stringify([a.resourceType, a.resourceName, a.patternType, a.principal, a.host, a.operation, a.permissionType])
}

export function sameAcl(a: Acl): Acl {
  return { resourceType: a.resourceType, resourceName: a.resourceName, patternType: a.patternType, principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType }
}
