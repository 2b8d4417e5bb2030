import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../../errors.js';
import { CeleryWorker } from '../../worker/celery-worker.js';
import type { CliEnv, RegisterCommand } from '../command-kit.js';
import { parseIntArg, runUntilSignal } from './scheduler.js';

/**
 * `updraft celery worker` (and its short alias `updraft worker`) and `updraft celery stop`, with
 * Airflow's options. The worker's pid file defaults to $AIRFLOW_HOME/airflow-worker.pid, which is
 * what `celery stop` reads.
 */
interface WorkerOpts {
  queues?: string;
  concurrency?: number;
  hostname?: string;
  pid?: string;
  skipServeLogs?: boolean;
}

const defaultPidFile = (cli: CliEnv) => join(cli.context().config.home, 'airflow-worker.pid');

function addWorkerCommand(parent: Command, name: string, cli: CliEnv): void {
  parent
    .command(name)
    .description('Start a worker that runs tasks queued by a scheduler with core.executor = CeleryExecutor')
    .option(
      '-q, --queues <names>',
      'comma-separated queues to take tasks from (default [operators] default_queue)',
    )
    .option('-c, --concurrency <n>', 'tries run at once (default [celery] worker_concurrency)', parseIntArg)
    .option('-H, --hostname <host>', 'host name recorded on tries and used to reach this worker’s logs')
    .option('--pid <file>', 'pid file (default $AIRFLOW_HOME/airflow-worker.pid)')
    .option('-s, --skip-serve-logs', 'do not serve task logs on [logging] worker_log_server_port')
    .action(async (opts: WorkerOpts) => {
      const ctx = cli.context();
      const c = ctx.config.values;
      const queues = (opts.queues ?? c.operators.default_queue)
        .split(',')
        .map((q) => q.trim())
        .filter((q) => q !== '');
      if (queues.length === 0) throw new ValidationError('--queues names no queue');
      const concurrency = opts.concurrency ?? c.celery.worker_concurrency;
      if (concurrency < 1) throw new ValidationError('--concurrency must be at least 1');
      const worker = new CeleryWorker(ctx, {
        queues,
        concurrency,
        hostname: opts.hostname || c.core.hostname || osHostname(),
        graceSeconds: c.celery.worker_grace_period,
        logServerPort: opts.skipServeLogs ? 0 : c.logging.worker_log_server_port,
        env: cli.env,
      });
      const pidFile = opts.pid ?? defaultPidFile(cli);
      writeFileSync(pidFile, `${process.pid}\n`);
      try {
        await runUntilSignal(
          () => worker.run(),
          () => worker.stop(),
        );
      } finally {
        rmSync(pidFile, { force: true });
      }
    });
}

export const registerCelery: RegisterCommand = (program, cli) => {
  const celery = program.command('celery').description('Distributed workers (CeleryExecutor on Redis)');
  addWorkerCommand(celery, 'worker', cli);
  celery
    .command('stop')
    .description(
      'Stop the worker whose pid file is given (it finishes running tries within the grace period)',
    )
    .option('--pid <file>', 'pid file (default $AIRFLOW_HOME/airflow-worker.pid)')
    .action((opts: { pid?: string }) => {
      const pidFile = opts.pid ?? defaultPidFile(cli);
      if (!existsSync(pidFile)) throw new NotFoundError(`No worker pid file at ${pidFile}`);
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new ValidationError(`${pidFile} holds no process id`);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        rmSync(pidFile, { force: true });
        throw new NotFoundError(`No worker is running with pid ${pid} (stale ${pidFile} removed)`);
      }
      console.log(`Sent SIGTERM to worker pid ${pid}.`);
    });
  addWorkerCommand(program, 'worker', cli);
};
