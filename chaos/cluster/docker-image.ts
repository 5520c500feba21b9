// The reference-broker image for the Docker backend, built with no registry and no Dockerfile: a root file
// system made of this machine's node binary, the shared libraries `ldd` lists for it, and the built project
// (package.json, dist/, the production node_modules) under /app, streamed by GNU tar into the Engine's image
// import. It is tagged faultline-broker:<digest of its contents>, so it is built once per build of the project
// and reused by every later run; older faultline-broker tags are removed when a new one is built.
//
// The import goes to a temporary tag recorded in the run's ledger, then is retagged: a harness killed mid-build
// leaves nothing that `faultline cleanup` does not remove. A lock file in the state directory keeps two
// processes from building the same image at once (the loser's copy would be left untagged).

import { execFileSync, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import type Docker from 'dockerode'
import { type Ledger, stateDir } from '../ledger.ts'
import { CLI_PATH } from './broker-process.ts'
import { ClusterError } from './types.ts'

export const IMAGE_REPO = 'faultline-broker'
/** Where the project lives inside the image. */
export const APP_DIR = '/app'

/** The project's root: the directory holding dist/ (CLI_PATH is ROOT/dist/bin/faultline.js). */
export function projectRoot(): string {
  return dirname(dirname(dirname(CLI_PATH)))
}

/** The node binary's shared libraries (and its dynamic loader), as `ldd` lists them. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' })
  const libs: string[] = []
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line)
    if (m) libs.push(m[1]!)
  }
  return libs
}

/** Directories of the production dependencies (dependencies and optionalDependencies, transitively), resolved
 *  the way node does: node_modules of the requiring package, then of each directory above it up to the root. */
export function productionPackages(root: string): string[] {
  const found = new Set<string>()
  const queue: string[] = [root]
  while (queue.length > 0) {
    const dir = queue.shift()!
    let pkg: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg
    } catch {
      continue
    }
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      for (let from = dir; ; from = dirname(from)) {
        const candidate = join(from, 'node_modules', name)
        if (existsSync(join(candidate, 'package.json'))) {
          if (!found.has(candidate)) {
            found.add(candidate)
            queue.push(candidate)
          }
          break
        }
        // An optional dependency for another platform is simply absent.
        if (from === root || dirname(from) === from) break
      }
    }
  }
  return [...found].sort()
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else out.push(p)
  }
}

interface ImagePlan {
  readonly digest: string
  /** Absolute paths outside the project: node and its libraries. */
  readonly system: readonly string[]
  /** Paths relative to the project root. */
  readonly project: readonly string[]
  readonly root: string
}

/** What goes into the image and the digest that names it: the contents of package.json and dist/, and the
 *  path, size and modification time of node, its libraries and every production dependency's files. */
export function planImage(root = projectRoot()): ImagePlan {
  if (!existsSync(join(root, 'dist', 'bin', 'faultline.js'))) {
    throw new ClusterError('ERR_DOCKER_IMAGE', `${join(root, 'dist')} has no build; run npm run build first`)
  }
  const system = [process.execPath, ...sharedLibraries(process.execPath)]
  const all = productionPackages(root)
  // A package nested in another's node_modules goes into the archive with its parent.
  const packages = all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}/`))).map((p) => relative(root, p))
  const project = ['package.json', 'dist', ...packages]
  const h = createHash('sha256')
  h.update(`node ${process.version}\n`)
  for (const f of system) {
    const st = statSync(f)
    h.update(`${f} ${st.size} ${st.mtimeMs}\n`)
  }
  const distFiles: string[] = []
  walk(join(root, 'dist'), distFiles)
  for (const f of [join(root, 'package.json'), ...distFiles.filter((f) => !f.endsWith('.tsbuildinfo')).sort()]) {
    h.update(`${relative(root, f)}\n`)
    h.update(readFileSync(f))
  }
  for (const p of packages) {
    const files: string[] = []
    walk(join(root, p), files)
    for (const f of files.sort()) {
      const st = statSync(f)
      h.update(`${relative(root, f)} ${st.size} ${st.mtimeMs}\n`)
    }
  }
  return { digest: h.digest('hex').slice(0, 16), system, project, root }
}

async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect()
    return true
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false
    throw err
  }
}

/** A lock held through a file created exclusively; a lock whose holder died is taken over. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = stateDir()
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'docker-image.lock')
  const deadline = Date.now() + 10 * 60_000
  for (;;) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(readFileSync(path, 'utf8') || 'NaN')
      let alive = false
      try {
        process.kill(holder, 0)
        alive = true
      } catch {
        alive = false
      }
      if (!alive) rmSync(path, { force: true })
      else if (Date.now() > deadline) throw new ClusterError('ERR_DOCKER_IMAGE', `${path} is held by pid ${holder} for 10 minutes; remove it if that process is not building the image`)
      else await new Promise((r) => setTimeout(r, 250))
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(path, { force: true })
  }
}

/** Streams the root file system as a tar archive into the Engine's image import under `ref`. */
async function importRootfs(docker: Docker, plan: ImagePlan, ref: string): Promise<void> {
  const staging = mkdtempSync(join(tmpdir(), 'faultline-rootfs-'))
  try {
    // Empty directories the broker needs: /tmp, and /data for its log.
    mkdirSync(join(staging, 'tmp'), { mode: 0o1777 })
    mkdirSync(join(staging, 'data'))
    const members = ['-C', '/', ...plan.system.map((f) => f.slice(1)), '-C', plan.root, ...plan.project, '-C', staging, 'tmp', 'data']
    const app = APP_DIR.slice(1)
    // --dereference: /lib64 and the library names are symlinks on the host; the image gets the files.
    const tar = spawn(
      'tar',
      ['-c', '-f', '-', '--dereference', '--hard-dereference', '--exclude=.tsbuildinfo', '--exclude=node_modules/.bin', `--transform=s,^\\(package\\.json\\|dist\\|node_modules\\),${app}/\\1,`, ...members],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stderr = ''
    tar.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const tarDone = new Promise<void>((resolve, reject) => {
      tar.on('error', (err) => reject(new ClusterError('ERR_DOCKER_IMAGE', `cannot run tar to build the broker image: ${err.message}; expected GNU tar on PATH`, { cause: err })))
      tar.on('close', (code) => (code === 0 ? resolve() : reject(new ClusterError('ERR_DOCKER_IMAGE', `tar exited with code ${code} building the broker image: ${stderr.trim()}`))))
    })
    tarDone.catch(() => {})
    const [repo, tag] = ref.split(':') as [string, string]
    try {
      const progress = await docker.importImage(tar.stdout!, { repo, tag })
      await Promise.all([tarDone, followProgress(docker, progress)])
    } catch (err) {
      tar.kill('SIGKILL')
      if (err instanceof ClusterError) throw err
      throw new ClusterError('ERR_DOCKER_IMAGE', `the Docker engine did not import the broker image: ${(err as Error).message}`, { cause: err })
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

function followProgress(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = err?.message ?? out.find((o) => o.error)?.error
      if (failed) reject(new ClusterError('ERR_DOCKER_IMAGE', `the Docker engine did not import the broker image: ${failed}`))
      else resolve()
    })
  })
}

/** The broker image for this build: reused when it exists, built otherwise. Returns its reference. */
export async function ensureBrokerImage(docker: Docker, opts: { ledger?: Ledger; log?: (line: string) => void } = {}): Promise<string> {
  const plan = planImage()
  const ref = `${IMAGE_REPO}:${plan.digest}`
  if (await imageExists(docker, ref)) return ref
  return withBuildLock(async () => {
    if (await imageExists(docker, ref)) return ref
    const t0 = Date.now()
    opts.log?.(`docker: building ${ref} from ${process.execPath} and ${plan.root}`)
    const temp = `${IMAGE_REPO}:building-${randomBytes(4).toString('hex')}`
    const ledgerId = opts.ledger?.acquire({ kind: 'docker-image', ref: temp, description: 'the broker image being built' })
    try {
      await importRootfs(docker, plan, temp)
      await docker.getImage(temp).tag({ repo: IMAGE_REPO, tag: plan.digest })
    } finally {
      await docker
        .getImage(temp)
        .remove({ noprune: true })
        .catch(() => {})
      if (ledgerId !== undefined) opts.ledger!.release(ledgerId)
    }
    opts.log?.(`docker: built ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    await removeStaleImages(docker, plan.digest)
    return ref
  })
}

/** Earlier builds' images; one still used by a container (another run) stays. */
async function removeStaleImages(docker: Docker, keep: string): Promise<void> {
  const images = await docker.listImages({ filters: JSON.stringify({ reference: [IMAGE_REPO] }) })
  for (const img of images) {
    for (const t of img.RepoTags ?? []) {
      const tag = t.slice(t.lastIndexOf(':') + 1)
      if (tag === keep || tag.startsWith('building-')) continue
      await docker
        .getImage(t)
        .remove()
        .catch(() => {})
    }
  }
}
