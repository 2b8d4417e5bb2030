import { once } from 'node:events';
import { UsageError } from '../../errors.js';
import { startWebserver } from '../../web/index.js';
import type { RegisterCommand } from '../command-kit.js';

export const registerWebserver: RegisterCommand = (program, cli) => {
  program
    .command('webserver')
    .description('Start the webserver (UI and REST API) until interrupted')
    .option('-p, --port <port>', 'port to listen on (default [webserver] web_server_port)')
    .option('-H, --hostname <host>', 'address to listen on (default [webserver] web_server_host)')
    .action(async (opts: { port?: string; hostname?: string }) => {
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new UsageError(`--port must be a number from 0 to 65535, got "${opts.port}".`);
      }
      const ctx = cli.context();
      const server = await startWebserver(ctx, { host: opts.hostname, port });
      // The address really bound: 0.0.0.0 means reachable from other hosts, which the log must say.
      ctx.log.info(
        `Webserver listening on ${server.listening}` +
          (server.allAddresses ? ` (every address; from this host: ${server.url})` : ''),
      );
      console.log(`Updraft webserver running at ${server.url} (Ctrl+C to stop)`);
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      await server.close();
    });
};
