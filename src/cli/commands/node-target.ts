import { Option, type Command } from 'commander';

/** The options naming a node, shared by `health` and `repair` (same meaning as for `provision`). */
export function addTargetOptions(command: Command): Command {
  return command
    .option('--stack <file-or-name>', 'stack file, or the name of a stack provisioned from this machine')
    .option('--name <name>', 'stack name (its secrets live under ~/.updraft/stacks/NAME)')
    .option('--host <host>', 'address of the host')
    .option('--port <port>', 'SSH port (default 22)')
    .option('--user <user>', 'SSH user')
    .option('--key <file>', 'private key file for SSH')
    .addOption(new Option('--target <kind>', 'local: this machine').choices(['ssh', 'local']));
}
