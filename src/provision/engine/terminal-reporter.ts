import { Listr, PRESET_TIMER } from 'listr2';
import { plainReporter, summaryLines } from './reporters.js';
import type { ProgressReporter, ProvisionResult, StepReport } from './types.js';

/** listr2 on a terminal (step, host, elapsed time), plain lines when stdout is not a TTY. */
export async function terminalReporter(out: NodeJS.WriteStream = process.stdout): Promise<ProgressReporter> {
  if (!out.isTTY) return plainReporter();
  return listrReporter(out);
}

interface Pending {
  report: Promise<StepReport | null>;
  finished: (r: StepReport | null) => void;
}

function pendingStep(): Pending {
  let finished!: (r: StepReport | null) => void;
  const report = new Promise<StepReport | null>((resolve) => (finished = resolve));
  return { report, finished };
}

function listrReporter(out: NodeJS.WriteStream): ProgressReporter {
  const write = (line: string) => out.write(line + '\n');
  const pending = new Map<string, Pending>();
  let running: Promise<unknown> = Promise.resolve();
  let check = false;
  return {
    runStarted(info) {
      check = info.check;
      write(`${info.check ? 'Checking' : 'Provisioning'} ${info.host} (${info.os})`);
      // A step may finish before listr gets to its task: each step's outcome is waiting for it.
      for (const s of info.steps) pending.set(s.id, pendingStep());
      const list = new Listr(
        info.steps.map((s) => ({
          title: `${s.title} [${info.host}]`,
          task: async (_ctx: unknown, task: { title: string; skip(message?: string): void }) => {
            const report = await pending.get(s.id)!.report;
            if (report === null) return task.skip(`${s.title}: not reached`);
            const what =
              report.status === 'unchanged'
                ? 'ok'
                : `${report.changes.length} ${report.status === 'would-change' ? 'would change' : 'changed'}`;
            task.title = `${s.title} [${info.host}]: ${what}`;
            if (report.status === 'failed') throw new Error(report.error ?? 'failed');
          },
        })),
        {
          concurrent: false,
          exitOnError: true,
          rendererOptions: { timer: PRESET_TIMER, collapseErrors: false },
        },
      );
      running = list.run().catch(() => {});
    },
    stepStarted() {},
    stepFinished(r) {
      pending.get(r.id)?.finished(r);
    },
    warn(message) {
      write(`WARNING: ${message}`);
    },
    async runFinished(result: ProvisionResult) {
      for (const p of pending.values()) p.finished(null);
      await running;
      for (const s of result.steps) {
        for (const c of s.changes) {
          write(`    ${check ? '~' : '+'} ${c.resource}: ${c.summary}`);
          if (check && c.diff) for (const line of c.diff.trimEnd().split('\n')) write(`      ${line}`);
        }
      }
      for (const line of summaryLines(result)) write(line);
    },
  };
}
