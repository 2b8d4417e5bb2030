import { DagProcessor } from '../../dag-processing/processor.js';
import { UsageError } from '../../errors.js';
import type { RegisterCommand } from '../command-kit.js';
import { migratedDb } from '../metadata-store.js';

export const registerDagProcessor: RegisterCommand = (program, cli) => {
  program
    .command('dag-processor')
    .description('Run the DAG processor: parse the DAG folder into the metadata DB, continuously')
    .option('-n, --num-runs <n>', 'stop after this many passes (default: run until interrupted)')
    .action(async (opts: { numRuns?: string }) => {
      let passes = Infinity;
      if (opts.numRuns !== undefined) {
        passes = Number(opts.numRuns);
        if (!Number.isInteger(passes) || passes < 1)
          throw new UsageError(`--num-runs must be a positive integer, got '${opts.numRuns}'`);
      }
      const ctx = cli.context();
      await migratedDb(cli);
      const processor = new DagProcessor(ctx);
      const stop = () => processor.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        ctx.log.info(
          `DAG processor started; folder ${ctx.config.values.core.dags_folder}, every ${processor.intervalMs / 1000}s`,
        );
        await processor.run(passes);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
};
