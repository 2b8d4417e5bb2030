import type { CheckResult, CheckStatus, HealthReport } from './types.js';
import type { RepairPlan } from './repair.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

function indent(text: string, prefix = '        '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** The report as a table for a terminal: one line a check, evidence under failures and warnings. */
export function renderReport(report: HealthReport, options: { evidence?: boolean } = {}): string {
  const width = Math.max(...report.checks.map((c) => c.id.length), 10);
  const lines = [
    `${report.host} (${report.os}), stack ${report.stack}: ${report.status.toUpperCase()} in ${(report.durationMs / 1000).toFixed(1)} s`,
  ];
  for (const c of report.checks) {
    lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(width)}  ${c.finding}`);
    if (options.evidence !== false && c.status !== 'ok' && c.evidence) lines.push(indent(c.evidence));
  }
  const counts = (s: CheckStatus) => report.checks.filter((c: CheckResult) => c.status === s).length;
  lines.push(`${counts('ok')} ok, ${counts('warn')} warning(s), ${counts('fail')} failure(s)`);
  return lines.join('\n');
}

export function renderRepairPlan(plan: RepairPlan): string {
  const lines: string[] = [];
  if (plan.fixes.length === 0) lines.push('Nothing to repair.');
  for (const f of plan.fixes) {
    lines.push(
      `- ${f.fix} (for ${f.checks.join(', ')}): re-apply ${f.steps.join(', ')}${f.actions.length ? `; ${f.actions.join('; ')}` : ''}`,
    );
  }
  for (const m of plan.manual) lines.push(`- cannot repair ${m.check}: ${m.finding}. Next: ${m.next}.`);
  return lines.join('\n');
}
