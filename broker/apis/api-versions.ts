// ApiVersions: v0-4
//
// Behavior:
// * Lists every registered API with the version range we serve (derived from the registry).
// * A version newer than ours is answered by the server with a v0 body and UNSUPPORTED_VERSION (KIP-511).
// * v3 carries the client's software name and version; we keep them on the connection for logs.
//
// Version notes:
// * v1: throttleTimeMs
// * v3: flexible; response header stays v0; v4: same as v3 (KAFKA-17011 concerns feature ranges we do not list)

import { ApiVersions } from '../protocol/messages/api-versions.ts'
import { register, supportedApiKeys } from './registry.ts'

register(ApiVersions, (req, ctx) => {
  if (ctx.version >= 3) {
    ctx.connection.clientSoftwareName = req.clientSoftwareName
    ctx.connection.clientSoftwareVersion = req.clientSoftwareVersion
  }
  return { errorCode: 0, apiKeys: supportedApiKeys(), throttleTimeMs: 0 }
})
