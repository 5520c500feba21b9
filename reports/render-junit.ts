// JUnit XML (the Apache Ant schema that Jenkins, GitLab, GitHub Actions reporters and most CI systems read), so a
// CI system lists faultline's checks beside unit tests: one test case per delivery check (an anomaly kind with a
// limit), per SLO and per regression verdict, a failure carrying the measured value and the limit. A harness
// failure is an error test case. Validated against test/reports/junit/JUnit.xsd in the tests.

import { hostname } from 'node:os'
import { anomalyKinds } from './checker.ts'
import { comparisonRow, type Comparison, type MetricComparison } from './compare.ts'
import { describeSlo, sloValue } from './describe.ts'
import { formatCount } from './format.ts'
import type { Results } from './results.ts'

interface Case {
  classname: string
  name: string
  outcome: { kind: 'passed' } | { kind: 'skipped' } | { kind: 'failure' | 'error'; type: string; message: string; detail?: string }
}

const escape = (s: string): string =>
  s
    // Characters XML 1.0 cannot carry at all.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')

/** The schema's timestamp: local-free ISO 8601 without fraction or zone. */
const timestamp = (iso: string): string => {
  const d = new Date(iso)
  return (Number.isNaN(d.getTime()) ? new Date(0) : d).toISOString().slice(0, 19)
}

function resultCases(r: Results): Case[] {
  const cases: Case[] = []
  const pkg = `faultline.${r.scenario.name}`
  const d = r.delivery
  if (d.state === 'skipped') {
    cases.push({ classname: `${pkg}.delivery`, name: 'delivery', outcome: { kind: 'skipped' } })
  } else {
    for (const kind of anomalyKinds) {
      const a = d.anomalies[kind]
      if (a.limit === null) continue
      if (!a.checked) {
        cases.push({ classname: `${pkg}.delivery`, name: kind, outcome: { kind: 'skipped' } })
        continue
      }
      cases.push({
        classname: `${pkg}.delivery`,
        name: kind,
        outcome: a.exceeded
          ? { kind: 'failure', type: 'delivery', message: `${kind}: ${formatCount(a.count)}, limit ${a.limit}`, detail: a.examples.map((e) => JSON.stringify(e)).join('\n') }
          : { kind: 'passed' },
      })
    }
  }
  for (const s of r.slos) {
    cases.push({
      classname: `${pkg}.slo`,
      name: s.metric,
      outcome:
        s.state === 'passed'
          ? { kind: 'passed' }
          : s.state === 'failed'
            ? { kind: 'failure', type: 'slo', message: `${s.metric}: ${sloValue(s.unit, s.actual)}, limit ${s.comparison} ${sloValue(s.unit, s.threshold)}` }
            : { kind: 'error', type: 'slo', message: describeSlo(s) },
    })
  }
  const harness = r.verdict.state === 'errored' ? r.verdict.reasons.filter((x) => !x.startsWith('delivery:') && !x.startsWith('SLO ')) : []
  if (harness.length > 0) cases.push({ classname: `${pkg}.harness`, name: 'run', outcome: { kind: 'error', type: 'harness', message: harness.join('; ') } })
  if (r.comparison) cases.push(...comparisonCases(r.comparison, pkg))
  return cases
}

function metricCase(m: MetricComparison, pkg: string): Case {
  const [, base, cand, change, interval, p, threshold] = comparisonRow(m)
  const measured = `${m.metric}: ${change} (baseline ${base}, candidate ${cand}; 95% interval ${interval}, p ${p}), limit ${threshold}`
  return {
    classname: `${pkg}.regression`,
    name: m.metric,
    outcome: m.verdict === 'regressed' ? { kind: 'failure', type: 'regression', message: measured, detail: m.reason } : { kind: 'passed' },
  }
}

function comparisonCases(c: Comparison, pkg: string): Case[] {
  return c.metrics.map((m) => metricCase(m, pkg))
}

function suite(name: string, startedAt: string, seconds: number, properties: [string, string][], cases: Case[], out: string): string {
  const count = (k: string): number => cases.filter((c) => c.outcome.kind === k).length
  const lines: string[] = []
  lines.push(
    `  <testsuite package="faultline" id="0" name="${escape(name)}" timestamp="${timestamp(startedAt)}" hostname="${escape(hostname() || 'localhost')}" tests="${cases.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}" time="${seconds.toFixed(3)}">`,
  )
  lines.push('    <properties>')
  for (const [k, v] of properties) lines.push(`      <property name="${escape(k)}" value="${escape(v)}"/>`)
  lines.push('    </properties>')
  for (const c of cases) {
    const open = `    <testcase classname="${escape(c.classname)}" name="${escape(c.name)}" time="0"`
    const o = c.outcome
    if (o.kind === 'passed') lines.push(`${open}/>`)
    else if (o.kind === 'skipped') lines.push(`${open}><skipped/></testcase>`)
    else lines.push(`${open}><${o.kind} type="${escape(o.type)}" message="${escape(o.message)}">${escape(o.detail ?? o.message)}</${o.kind}></testcase>`)
  }
  lines.push(`    <system-out>${escape(out)}</system-out>`)
  lines.push('    <system-err></system-err>')
  lines.push('  </testsuite>')
  return lines.join('\n')
}

const wrap = (body: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${body}\n</testsuites>\n`

/** A run's checks (and its comparison with a baseline, when it has one) as JUnit XML. */
export function renderJunit(r: Results): string {
  const e = r.environment
  const props: [string, string][] = [
    ['scenario', r.scenario.name],
    ['scenario.digest', r.scenario.digest],
    ['seed', String(r.run.seed ?? '')],
    ['faultline.version', r.run.faultlineVersion],
    ['cluster', r.run.cluster.description],
  ]
  if (e) props.push(['faultline.commit', e.faultlineCommit ?? ''], ['cpu', e.cpuModel ?? ''], ['cores', String(e.cores)], ['node', e.node], ['kernel', e.kernel ?? ''])
  return wrap(suite(`faultline.${r.scenario.name}`, r.run.startedAt, r.run.durationUs / 1e6, props, resultCases(r), `verdict ${r.verdict.state}${r.verdict.reasons.map((x) => `\n${x}`).join('')}`))
}

/** A comparison's regression verdicts as JUnit XML (`faultline compare --format junit`). */
export function renderComparisonJunit(c: Comparison, startedAt = new Date().toISOString()): string {
  const pkg = `faultline.${c.candidate.scenario}`
  const props: [string, string][] = [
    ['baseline', c.baseline.source],
    ['candidate', c.candidate.source],
    ['alpha', String(c.settings.alpha)],
    ['seed', String(c.settings.seed)],
  ]
  for (const d of c.environment) props.push([`environment.differs.${d.field}`, `baseline ${d.baseline}, candidate ${d.candidate}`])
  return wrap(suite(`${pkg}.compare`, startedAt, 0, props, comparisonCases(c, pkg), `comparison ${c.verdict}`))
}
