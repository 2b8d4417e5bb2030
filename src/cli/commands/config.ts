import { formatValue, getValueString } from '../../config/index.js';
import { outputOption, jsonOption, type OutputOpts, type RegisterCommand } from '../command-kit.js';
import { printRows } from '../output.js';

export const registerConfig: RegisterCommand = (program, cli) => {
  const config = program.command('config').description('View configuration');

  config
    .command('get-value <section> <key>')
    .description('Print the value of one configuration key')
    .action((section: string, key: string) => {
      console.log(getValueString(cli.context().config, section, key));
    });

  config
    .command('list')
    .description('List every configuration key with its value and where it came from')
    .option('--section <section>', 'only this section')
    .option('--show-secrets', 'show sensitive values instead of < hidden >')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action((opts: OutputOpts & { section?: string; showSecrets?: boolean }) => {
      const { resolved } = cli.context().config;
      const rows = resolved
        .filter((r) => !opts.section || r.section === opts.section.toLowerCase())
        .map((r) => ({
          section: r.section,
          key: r.key,
          value: r.sensitive && !opts.showSecrets && r.value !== '' ? '< hidden >' : formatValue(r.value),
          source: r.source,
        }));
      printRows(rows, ['section', 'key', 'value', 'source'], opts.output);
    });
};
