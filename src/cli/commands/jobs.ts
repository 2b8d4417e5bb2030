import { hostname as osHostname } from 'node:os';
import { ConflictError, ValidationError } from '../../errors.js';
import {
  jsonOption,
  recordOutputOption,
  type RecordOutputOpts,
  type RegisterCommand,
} from '../command-kit.js';
import { printRows } from '../output.js';

export const registerJobs: RegisterCommand = (program, cli) => {
  const jobs = program.command('jobs').description('Manage jobs');
  jobs
    .command('check')
    .description('Check that jobs of a type are alive (exit code 0 when enough are)')
    .option(
      '--job-type <type>',
      'SchedulerJob, LocalTaskJob, WorkerJob, DagProcessorJob, TriggererJob',
      'SchedulerJob',
    )
    .option('--hostname <host>', 'only jobs on this host')
    .option('--local', 'only jobs on this host (the machine’s host name)')
    .option('--limit <n>', 'how many of the most recent jobs to check', (v) => Number(v), 1)
    .option('--allow-multiple', 'accept more than one alive job')
    .addOption(recordOutputOption('the alive jobs'))
    .addOption(jsonOption())
    .action(
      async (
        opts: RecordOutputOpts & {
          jobType: string;
          hostname?: string;
          local?: boolean;
          limit: number;
          allowMultiple?: boolean;
        },
      ) => {
        const ctx = cli.context();
        const db = (await ctx.db()).kysely;
        const threshold = ctx.config.values.scheduler.scheduler_health_check_threshold * 1000;
        let q = db
          .selectFrom('job')
          .select(['id', 'job_type', 'hostname', 'latest_heartbeat'])
          .where('job_type', '=', opts.jobType)
          .where('state', '=', 'running')
          .where('latest_heartbeat', '>=', Date.now() - threshold);
        const host =
          opts.hostname ?? (opts.local ? ctx.config.values.core.hostname || osHostname() : undefined);
        if (host) q = q.where('hostname', '=', host);
        if (!Number.isInteger(opts.limit) || opts.limit < 1)
          throw new ValidationError('--limit must be a positive whole number');
        const alive = await q.orderBy('latest_heartbeat', 'desc').limit(opts.limit).execute();
        if (alive.length === 0) throw new ConflictError(`No alive jobs found${host ? ` on ${host}` : ''}.`);
        if (alive.length > 1 && !opts.allowMultiple)
          throw new ConflictError(`Found ${alive.length} alive jobs. Expected only one.`);
        if (opts.output) {
          printRows(
            alive.map((j) => ({
              id: j.id,
              job_type: j.job_type,
              hostname: j.hostname,
              latest_heartbeat: new Date(j.latest_heartbeat).toISOString(),
            })),
            ['id', 'job_type', 'hostname', 'latest_heartbeat'],
            opts.output,
          );
          return;
        }
        console.log(alive.length === 1 ? 'Found one alive job.' : `Found ${alive.length} alive jobs.`);
      },
    );
};
