#!/usr/bin/env -S node --initial-old-space-size=128
// faultline CLI: parses argv, calls into the folders, sets the exit code.
// Exit codes: 0 all checks passed, 1 a check or SLO failed, 2 bad input, 3 the harness itself failed.

import { parseArgs, type ParseArgsConfig } from 'node:util'
import { runBroker } from '../broker/main.ts'
import { cleanupCommand } from '../chaos/cleanup.ts'
import { certsCommand } from '../chaos/cluster/certs.ts'
import { clusterDown, clusterUp } from '../chaos/cluster/commands.ts'
import { USERS_USAGE, usersCommand } from '../chaos/cluster/users.ts'
import { ACLS_USAGE, aclsCommand } from '../chaos/cluster/acls.ts'
import { runProxyServer } from '../chaos/proxy/main.ts'
import { compareCommand } from '../reports/compare-command.ts'
import { reportCommand } from '../reports/report.ts'
import { schemaCommand, validateCommand } from '../scenarios/commands.ts'
import { DURATION_FLAG_HELP } from '../scenarios/duration.ts'
import { EXPLORE_USAGE, exploreCommand } from '../scenarios/explore-command.ts'
import { DRIVER_FLAG_HELP, runCommand } from '../scenarios/runner-command.ts'
import { runWorker } from '../scenarios/worker.ts'
import { SWEEP_USAGE, sweepCommand } from '../scenarios/sweep.ts'

interface Command {
  summary: string
  usage: string
  options: NonNullable<ParseArgsConfig['options']>
  positionals?: { min: number; max: number }
  /** Exit as soon as run() resolves, even with handles left open (long-running servers). */
  exitWhenDone?: boolean
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>
}

const REPEAT_FLAG_HELP = [
  '  --repeat N    run the scenario N times, each on a fresh cluster, into OUT/repeat-1..N, plus OUT/aggregate.json;',
  '                with --baseline or --baseline-cmd, OUT/comparison.json and exit 1 on a regression.',
  '  --baseline-cmd CMD  a command running the baseline build (node ../main/dist/bin/faultline.js); its runs',
  '                interleave with these (ABBA), into OUT/baseline/repeat-1..N, same seeds.',
].join('\n')

const commands: Record<string, Command> = {
  broker: {
    summary: 'run one reference broker in the foreground',
    usage: 'faultline broker --node-id N --listeners PLAINTEXT://127.0.0.1:9092 --data-dir DIR [--config FILE] [--override key=value ...] [--log-level info]',
    options: {
      'node-id': { type: 'string' },
      listeners: { type: 'string' },
      'advertised-listeners': { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      override: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'exit-with-parent': { type: 'boolean' },
    },
    exitWhenDone: true,
    run: (v) =>
      runBroker({
        nodeId: v['node-id'] as string | undefined,
        listeners: v.listeners as string | undefined,
        advertisedListeners: v['advertised-listeners'] as string | undefined,
        dataDir: v['data-dir'] as string | undefined,
        config: v.config as string | undefined,
        override: v.override as string[] | undefined,
        logLevel: v['log-level'] as string | undefined,
        exitWithParent: v['exit-with-parent'] === true,
      }),
  },
  cluster: {
    summary: 'start (up) or stop (down) a local cluster of reference brokers',
    usage: 'faultline cluster up --brokers 3 --data-dir DIR [--base-port 9092] [--detach] | faultline cluster down --data-dir DIR',
    options: { brokers: { type: 'string' }, 'data-dir': { type: 'string' }, 'base-port': { type: 'string' }, detach: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    // Foreground: the brokers are ours until Ctrl-C; detached: they outlive us, so exit without waiting on them.
    exitWhenDone: true,
    run: async (v, [sub]) => {
      if (sub === 'up') return clusterUp({ brokers: v.brokers as string | undefined, dataDir: v['data-dir'] as string | undefined, basePort: v['base-port'] as string | undefined, detach: v.detach === true })
      if (sub === 'down') return clusterDown({ dataDir: v['data-dir'] as string | undefined })
      process.stderr.write(`faultline cluster: unknown subcommand ${JSON.stringify(sub)}; expected up or down\n`)
      return 2
    },
  },
  proxy: {
    summary: 'run faultline\'s proxy server (the Toxiproxy HTTP API and toxics) in the foreground',
    usage: 'faultline proxy [--listen 127.0.0.1:8474] [--exit-with-parent]',
    options: { listen: { type: 'string' }, 'exit-with-parent': { type: 'boolean' } },
    positionals: { min: 0, max: 0 },
    exitWhenDone: true,
    run: (v) => runProxyServer({ listen: v.listen as string | undefined, exitWithParent: v['exit-with-parent'] === true }),
  },
  worker: {
    summary: 'run a load worker that a scenario names (workload.workers: [ "host:port" ]), driven over HTTP/JSON by `faultline run`',
    usage: 'faultline worker [--listen 127.0.0.1:7070] [--dir DIR] [--exit-with-parent]',
    options: { listen: { type: 'string' }, dir: { type: 'string' }, 'exit-with-parent': { type: 'boolean' } },
    positionals: { min: 0, max: 0 },
    exitWhenDone: true,
    run: (v) => runWorker({ listen: v.listen as string | undefined, dir: v.dir as string | undefined, exitWithParent: v['exit-with-parent'] === true }),
  },
  run: {
    summary: 'run a scenario: cluster, load, faults, checks; writes results.json, results.md and report.html, prints the summary',
    usage: `faultline run SCENARIO.yaml [--out DIR] [--seed N] [--duration D] [--driver NAME] [--baseline RESULTS.json|DIR] [--repeat N] [--baseline-cmd CMD] [--quiet]\n${DURATION_FLAG_HELP}\n${DRIVER_FLAG_HELP}\n${REPEAT_FLAG_HELP}`,
    options: { out: { type: 'string' }, seed: { type: 'string' }, duration: { type: 'string' }, driver: { type: 'string' }, baseline: { type: 'string' }, repeat: { type: 'string' }, 'baseline-cmd': { type: 'string' }, quiet: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    // Client libraries can leave sockets or timers behind after close(); the verdict is known, so exit.
    exitWhenDone: true,
    run: (v, [file]) =>
      runCommand(file!, {
        out: v.out as string | undefined,
        seed: v.seed as string | undefined,
        duration: v.duration as string | undefined,
        driver: v.driver as string | undefined,
        baseline: v.baseline as string | undefined,
        repeat: v.repeat as string | undefined,
        baselineCmd: v['baseline-cmd'] as string | undefined,
        quiet: v.quiet === true,
      }),
  },
  explore: {
    summary: 'search for a fault schedule that breaks a scenario\'s checks; writes the smallest one as a scenario',
    usage: EXPLORE_USAGE,
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      keys: { type: 'string' },
      kinds: { type: 'string' },
      faults: { type: 'string' },
      'fault-duration': { type: 'string' },
      'shrink-runs': { type: 'string' },
      confirm: { type: 'string' },
      checks: { type: 'string' },
      verbose: { type: 'boolean' },
    },
    positionals: { min: 1, max: 1 },
    // As for run: client libraries can leave sockets or timers behind after close().
    exitWhenDone: true,
    run: (v, [file]) =>
      exploreCommand(file!, {
        runs: v.runs as string | undefined,
        seed: v.seed as string | undefined,
        out: v.out as string | undefined,
        duration: v.duration as string | undefined,
        rate: v.rate as string | undefined,
        keys: v.keys as string | undefined,
        kinds: v.kinds as string | undefined,
        faults: v.faults as string | undefined,
        faultDuration: v['fault-duration'] as string | undefined,
        shrinkRuns: v['shrink-runs'] as string | undefined,
        confirm: v.confirm as string | undefined,
        checks: v.checks as string | undefined,
        verbose: v.verbose === true,
      }),
  },
  sweep: {
    summary: 'run a scenario along an axis (rate, partitions, messageSize, producers, workers); finds the knee, the saturation point and a capacity model',
    usage: SWEEP_USAGE,
    options: {
      axis: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      steps: { type: 'string' },
      scale: { type: 'string' },
      refine: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      target: { type: 'string' },
      'cores-per-broker': { type: 'string' },
      quiet: { type: 'boolean' },
    },
    positionals: { min: 1, max: 1 },
    // As for run: client libraries can leave sockets or timers behind after close().
    exitWhenDone: true,
    run: (v, [file]) =>
      sweepCommand(file!, {
        axis: v.axis as string | undefined,
        from: v.from as string | undefined,
        to: v.to as string | undefined,
        steps: v.steps as string | undefined,
        scale: v.scale as string | undefined,
        refine: v.refine as string | undefined,
        out: v.out as string | undefined,
        seed: v.seed as string | undefined,
        duration: v.duration as string | undefined,
        target: v.target as string | undefined,
        coresPerBroker: v['cores-per-broker'] as string | undefined,
        quiet: v.quiet === true,
      }),
  },
  compare: {
    summary: 'compare a candidate with a baseline (results.json or directories of repeated runs); exit 1 on a regression',
    usage: 'faultline compare BASELINE CANDIDATE [--format console|md|json|junit] [--out FILE] [--threshold METRIC=PCT ...] [--alpha P] [--seed N]',
    options: { format: { type: 'string' }, out: { type: 'string' }, threshold: { type: 'string', multiple: true }, alpha: { type: 'string' }, seed: { type: 'string' } },
    positionals: { min: 2, max: 2 },
    run: async (v, [baseline, candidate]) =>
      compareCommand(baseline!, candidate!, { format: v.format as string | undefined, out: v.out as string | undefined, threshold: v.threshold as string[] | undefined, alpha: v.alpha as string | undefined, seed: v.seed as string | undefined }),
  },
  validate: {
    summary: 'check a scenario file; exit 2 with every problem (file:line:col: path: ...) if it is invalid',
    usage: `faultline validate SCENARIO.yaml [--duration D] [--seed N]\n${DURATION_FLAG_HELP}\n  --seed N      print the fault schedule (a nemesis's too) a run with --seed N applies (default 1)`,
    options: { duration: { type: 'string' }, seed: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    run: async (v, [file]) => validateCommand(file!, process, { duration: v.duration as string | undefined, seed: v.seed as string | undefined }),
  },
  report: {
    summary: 're-render a run\'s results.json (console, md, json, html or junit); exits with the run\'s verdict',
    usage: 'faultline report RESULTS.json [--format console|md|json|html|junit] [--out FILE]',
    options: { format: { type: 'string' }, out: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    run: async (v, [file]) => reportCommand(file!, (v.format as string | undefined) ?? 'console', v.out as string | undefined),
  },
  cleanup: {
    summary: 'undo what a killed run left behind (broker processes, paused ones too, and their data), from its ledger',
    usage: 'faultline cleanup [RUN_DIR] [--force]   (without RUN_DIR: every run that was killed)',
    options: { force: { type: 'boolean' } },
    positionals: { min: 0, max: 1 },
    run: async (v, [dir]) => cleanupCommand(dir, { force: v.force === true }),
  },
  certs: {
    summary: 'make a test CA and broker and client certificates (PEM) for SSL listeners',
    usage: 'faultline certs DIR [--brokers 3] [--clients alice,bob] [--hosts localhost,127.0.0.1,...]',
    options: { brokers: { type: 'string' }, clients: { type: 'string' }, hosts: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    run: async (v, [dir]) => certsCommand(dir, { brokers: v.brokers as string | undefined, clients: v.clients as string | undefined, hosts: v.hosts as string | undefined }),
  },
  users: {
    summary: 'add, delete or list the SCRAM users of a cluster (AlterUserScramCredentials, DescribeUserScramCredentials)',
    usage: USERS_USAGE,
    options: {
      bootstrap: { type: 'string' },
      password: { type: 'string' },
      'password-file': { type: 'string' },
      mechanism: { type: 'string' },
      iterations: { type: 'string' },
      'security-protocol': { type: 'string' },
      ca: { type: 'string' },
      'sasl-mechanism': { type: 'string' },
      'sasl-username': { type: 'string' },
      'sasl-password': { type: 'string' },
    },
    positionals: { min: 1, max: 20 },
    run: async (v, pos) =>
      usersCommand(pos, v as Record<string, string | undefined>, (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`)),
  },
  acls: {
    summary: 'add, list or delete the ACLs of a cluster (CreateAcls, DescribeAcls, DeleteAcls)',
    usage: ACLS_USAGE,
    options: {
      bootstrap: { type: 'string' },
      principal: { type: 'string' },
      operation: { type: 'string' },
      host: { type: 'string' },
      topic: { type: 'string' },
      group: { type: 'string' },
      'transactional-id': { type: 'string' },
      cluster: { type: 'boolean' },
      prefixed: { type: 'boolean' },
      deny: { type: 'boolean' },
      'security-protocol': { type: 'string' },
      ca: { type: 'string' },
      'sasl-mechanism': { type: 'string' },
      'sasl-username': { type: 'string' },
      'sasl-password': { type: 'string' },
    },
    positionals: { min: 1, max: 1 },
    run: async (v, pos) =>
      aclsCommand(pos, Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === true ? '' : (x as string | undefined)])), (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`)),
  },
  schema: {
    summary: 'print the JSON Schema of scenario files (for editors)',
    usage: 'faultline schema > scenario.schema.json',
    options: {},
    positionals: { min: 0, max: 0 },
    run: async () => schemaCommand(process),
  },
}

function help(): string {
  const lines = ['usage: faultline <command> [options]', '', 'commands:']
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`)
  lines.push('', 'faultline <command> --help shows a command\'s options.')
  return lines.join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`)
    return name ? 0 : 2
  }
  const cmd = commands[name]
  if (!cmd) {
    process.stderr.write(`faultline: unknown command ${JSON.stringify(name)}\n\n${help()}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${cmd.usage}\n`)
    return 0
  }
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: cmd.positionals !== undefined, strict: true })
  } catch (err) {
    process.stderr.write(`faultline ${name}: ${(err as Error).message}\nusage: ${cmd.usage}\n`)
    return 2
  }
  const pos = parsed.positionals
  if (cmd.positionals && (pos.length < cmd.positionals.min || pos.length > cmd.positionals.max)) {
    process.stderr.write(`faultline ${name}: expected ${cmd.positionals.min === cmd.positionals.max ? cmd.positionals.min : `${cmd.positionals.min}-${cmd.positionals.max}`} argument(s), got ${pos.length}\nusage: ${cmd.usage}\n`)
    return 2
  }
  try {
    const code = await cmd.run(parsed.values as Record<string, unknown>, pos)
    if (cmd.exitWhenDone) process.exit(code)
    return code
  } catch (err) {
    process.stderr.write(`faultline ${name}: ${(err as Error).stack ?? String(err)}\n`)
    return 3
  }
}

// `faultline validate x.yaml | head -1`: a reader that stopped reading is not an error, and not a stack trace.
// The servers (broker, worker, proxy) ignore such errors themselves and keep running: their output may go to a
// harness that died, and a broker must not stop because its log reader did.
if (!['broker', 'worker', 'proxy'].includes(process.argv[2] ?? '')) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`faultline: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 3
  },
)
