// What API handlers ask of the authorizer: one decision for the request's principal and client host. Without an
// authorizer (authorizer.class.name empty) everything is allowed and every operation is authorized, as in Kafka.

import type { RequestContext } from '../apis/registry.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { CLUSTER_NAME, operationsBitField, ResourceType, RESOURCE_OPERATIONS } from './authorizer.ts'

export function allowed(ctx: RequestContext, operation: number, resourceType: number, name: string): boolean {
  const z = ctx.broker.authorizer
  return z === null || z.authorize({ principal: ctx.connection.principal, host: ctx.connection.remoteAddress }, operation, resourceType, name)
}

/** May the principal do `operation` on some resource of the type (Kafka's authorizeByResourceType). */
export function allowedOnAny(ctx: RequestContext, operation: number, resourceType: number): boolean {
  const z = ctx.broker.authorizer
  return z === null || z.authorizeAny({ principal: ctx.connection.principal, host: ctx.connection.remoteAddress }, operation, resourceType)
}

/** Kafka's authorized-operations bit field of the resource for the request's principal. */
export function authorizedOperations(ctx: RequestContext, resourceType: number, name: string): number {
  const z = ctx.broker.authorizer
  const ops = z === null ? (RESOURCE_OPERATIONS[resourceType] ?? []) : z.authorizedOperations({ principal: ctx.connection.principal, host: ctx.connection.remoteAddress }, resourceType, name)
  return operationsBitField(ops)
}

/** DescribeConfigs / AlterConfigs: the error for a config resource (2 topic, 4 broker: the CLUSTER's ACLs) the
 *  principal may not `operation`, or null when it may. */
export function configResourceRefusal(ctx: RequestContext, operation: number, configResourceType: number, name: string): number | null {
  if (configResourceType === 2) return allowed(ctx, operation, ResourceType.TOPIC, name) ? null : ErrorCode.TOPIC_AUTHORIZATION_FAILED
  return allowed(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME) ? null : ErrorCode.CLUSTER_AUTHORIZATION_FAILED
}

/** The CLUSTER operation a cluster-wide API needs; false when the principal may not. */
export function clusterAllowed(ctx: RequestContext, operation: number): boolean {
  return allowed(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME)
}
