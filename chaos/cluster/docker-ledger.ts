// Ledger resources of the Docker backend (containers, the run's network, an image being built) and their undo
// for `faultline cleanup`. Cleanup is synchronous, so it uses the docker CLI rather than the Engine API.
// Identity first: a container or network is removed only while it carries the label naming this ledger (a
// name can be reused by a later run); an image being built has a tag with a random suffix of its own.

import { execFileSync } from 'node:child_process'

/** The label every container and network of a run carries: the path of the run's ledger. */
export const LEDGER_LABEL = 'faultline.ledger'

export type DockerLedgerResource =
  | { readonly kind: 'docker-container'; readonly id: string; readonly name: string; readonly ledger: string; readonly description: string }
  | { readonly kind: 'docker-network'; readonly id: string; readonly name: string; readonly ledger: string; readonly description: string }
  | { readonly kind: 'docker-image'; readonly ref: string; readonly description: string }

export function describeDockerResource(r: DockerLedgerResource): string {
  return r.kind === 'docker-image' ? `${r.description} (${r.ref})` : `${r.description} (${r.name})`
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
}

/** The object's ledger label, or null when it does not exist. */
function labelOf(kind: 'container' | 'network', id: string): string | null {
  try {
    return docker([kind, 'inspect', '--format', `{{index .${kind === 'container' ? 'Config.Labels' : 'Labels'} "${LEDGER_LABEL}"}}`, id]).trim()
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '')
    if (/no such|not found/i.test(stderr)) return null
    throw new Error(`docker ${kind} inspect ${id}: ${stderr.trim() || (err as Error).message}; is the Docker engine running?`)
  }
}

/** Undoes one Docker resource; throws on failure (the caller reports it). */
export function undoDockerResource(r: DockerLedgerResource): { state: 'undone' | 'gone'; detail: string } {
  const what = describeDockerResource(r)
  if (r.kind === 'docker-image') {
    try {
      docker(['image', 'rm', r.ref])
    } catch (err) {
      if (/no such image/i.test(String((err as { stderr?: unknown }).stderr ?? ''))) return { state: 'gone', detail: `${what}: already gone` }
      throw err
    }
    return { state: 'undone', detail: `${what}: removed` }
  }
  const kind = r.kind === 'docker-container' ? 'container' : 'network'
  const label = labelOf(kind, r.id)
  if (label === null || label !== r.ledger) return { state: 'gone', detail: `${what}: already gone` }
  // rm -f kills a running or paused container first.
  docker(kind === 'container' ? ['container', 'rm', '-f', '-v', r.id] : ['network', 'rm', r.id])
  return { state: 'undone', detail: `${what}: removed` }
}
