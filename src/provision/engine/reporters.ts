import type { ProgressReporter, ProvisionResult, StepReport } from './types.js';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** One line per event, for logs and pipes; in check mode every change and its diff. */
export function plainReporter(
  write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): ProgressReporter {
  let host = '';
  let check = false;
  return {
    runStarted(info) {
      host = info.host;
      check = info.check;
      write(`${check ? 'Checking' : 'Provisioning'} ${info.host} (${info.os}): ${info.steps.length} steps`);
    },
    stepStarted() {},
    stepFinished(r: StepReport) {
      const what =
        r.status === 'unchanged'
          ? 'ok'
          : r.status === 'failed'
            ? 'FAILED'
            : `${r.changes.length} ${r.status === 'would-change' ? 'would change' : 'changed'}`;
      write(`[${host}] ${r.title.padEnd(48)} ${what.padEnd(16)} ${secs(r.durationMs)}`);
      for (const c of r.changes) {
        write(`    ${check ? '~' : '+'} ${c.resource}: ${c.summary}`);
        if (check && c.diff) for (const line of c.diff.trimEnd().split('\n')) write(`      ${line}`);
      }
      if (r.error) write(`    ${r.error}`);
    },
    warn(message) {
      write(`WARNING: ${message}`);
    },
    runFinished(result) {
      for (const line of summaryLines(result)) write(line);
    },
  };
}

export function summaryLines(r: ProvisionResult): string[] {
  const lines: string[] = [];
  if (!r.ok)
    lines.push(
      `Failed: ${r.error ?? 'unknown error'}`,
      'Run the same command again once the cause is fixed: every step converges.',
    );
  else if (r.check)
    lines.push(
      r.changed === 0
        ? 'No changes: the host matches the stack.'
        : `${r.changed} change(s) would be made; nothing was changed.`,
    );
  else
    lines.push(
      r.changed === 0 ? 'No changes: the host already matched the stack.' : `${r.changed} change(s) made.`,
    );
  lines.push(
    `Steps: ${r.steps.map((s) => `${s.id} ${secs(s.durationMs)}`).join(', ')}; total ${secs(r.durationMs)}`,
  );
  if (r.url) lines.push(`Updraft is healthy at ${r.url}`);
  lines.push(`Credentials: ${r.secretsPath} (0600)`, `Log: ${r.logPath}`);
  return lines;
}

/** Nothing while running; the result as one JSON document at the end (for scripts). */
export function jsonReporter(
  write: (text: string) => void = (t) => process.stdout.write(t + '\n'),
): ProgressReporter {
  return {
    runStarted() {},
    stepStarted() {},
    stepFinished() {},
    warn() {},
    runFinished(result) {
      write(JSON.stringify(result, null, 2));
    },
  };
}
