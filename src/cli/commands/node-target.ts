import { Option, type Command } from 'commander';

/** What addTargetOptions parses (the provisioning toolkit's stack resolver takes this shape). */
export interface NodeTargetFlags {
  stack?: string;
  name?: string;
  host?: string;
  port?: string;
  user?: string;
  key?: string;
  target?: string;
}

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
