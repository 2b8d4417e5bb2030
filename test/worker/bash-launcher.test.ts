import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  spawnBashDirectly,
  type BashProcess,
  type BashStartOptions,
} from '../../src/dag/operators/bash-process.js';
import { bashLauncherPids, startBash, warmBashLauncher } from '../../src/worker/bash-starter.js';
import { listTaskProcesses } from '../../src/worker/process-tree.js';
import { BashLauncher } from '../../src/worker/bash-launcher.js';

/**
 * The resident bash launcher must be indistinguishable from a direct spawn for the command:
 * environment, output, exit status, EOF semantics, process group. Each test checks that the
 * launcher really ran the command (its parent is the launcher), so a silent fallback to a direct
 * spawn cannot make a test pass.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'updraft-launcher-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Launched extends Finished {
  /** The launcher that ran the command. */
  launcher: number;
}

async function finish(child: BashProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await child.exited;
  return { code, stdout, stderr };
}

const options = (extra: Partial<BashStartOptions> = {}): BashStartOptions => ({
  env: process.env,
  cwd: undefined,
  ...extra,
});

/**
 * Shell text that sets `parent` to the pid of the shell's parent, without a fork. `$PPID` will not
 * do: a job forked from the launcher is a subshell, and a subshell keeps its parent shell's PPID
 * (here, this process).
 */
const READ_PARENT = 'read -r _ _ _ parent _ < /proc/$BASHPID/stat';

/** `command`, first writing `parent=PID` to stderr (see viaLauncher). */
const reportingParent = (command: string) =>
  `${READ_PARENT}; echo "parent=$parent" >&2; unset parent; ${command}`;

/** Runs `command` through the launcher and checks that the launcher, not a direct spawn, ran it. */
async function viaLauncher(
  command: string,
  extra: Partial<BashStartOptions> = {},
  start: typeof startBash = startBash,
): Promise<Launched> {
  await warmBashLauncher();
  const result = await finish(start(reportingParent(command), options(extra)));
  const launcher = Number(/parent=(\d+)/.exec(result.stderr)?.[1]);
  expect(bashLauncherPids()).toContain(launcher);
  return { ...result, launcher, stderr: result.stderr.replace(/parent=\d+\n/, '') };
}

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bash launcher', () => {
  it('gives the command exactly the environment a direct spawn gives', async () => {
    const listEnv = 'env -0 | sort -z | tr "\\0" "\\n"; echo "SHLVL=$SHLVL"; ls /proc/self/fd | wc -l';
    const inherited = { ...process.env, AIRFLOW_CTX_TASK_ID: 'a task', MULTI_LINE: 'one\ntwo', EMPTY: '' };
    const launched = await viaLauncher(listEnv, { env: inherited });
    const direct = await finish(spawnBashDirectly(listEnv, options({ env: inherited })));
    expect(launched.stdout).toBe(direct.stdout);
    expect(launched.stdout).toContain('AIRFLOW_CTX_TASK_ID=a task');

    // A replaced environment: everything else the launcher has is gone.
    const replaced = { PATH: process.env.PATH ?? '/usr/bin:/bin', ONLY: 'this' };
    const launchedSmall = await viaLauncher('env | sort', { env: replaced });
    const directSmall = await finish(spawnBashDirectly('env | sort', options({ env: replaced })));
    expect(launchedSmall.stdout).toBe(directSmall.stdout);
    expect(launchedSmall.stdout).not.toContain('HOME=');
  });

  it('passes any text but NUL unchanged: quotes, backslashes, control and multi-byte characters', async () => {
    const tricky = `it's \\ "q" $'x' \\x41 %s \u0001\u001f\u007f\ttab\r\né ✓ 🚀 $(echo no) \`echo no\``;
    const env = { ...process.env, TRICKY: tricky };
    const folder = path.join(dir, `it's "odd" é`);
    await mkdir(folder, { recursive: true });
    const command = `printf '%s|' "$TRICKY" "$PWD"; printf '%s' ${JSON.stringify("'é ✓ 🚀 \\ \"'")}`;
    const launched = await viaLauncher(command, { env, cwd: folder });
    const direct = await finish(spawnBashDirectly(command, options({ env, cwd: folder })));
    expect(launched.stdout).toBe(direct.stdout);
    expect(launched.stdout).toBe(`${tricky}|${folder}|'é ✓ 🚀 \\ "'`);
  });

  it('reports stdout, stderr, the exit status and a death by signal', async () => {
    const result = await viaLauncher('echo out; echo err >&2; exit 7');
    expect(result).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    expect((await viaLauncher('kill -TERM $$')).code).toBe(128 + 15);
  });

  it('waits for every holder of the output to close it, and a leftover does not hold the next command', async () => {
    const started = Date.now();
    const held = await viaLauncher('(sleep 0.4; echo late) & echo early');
    expect(held.stdout).toBe('early\nlate\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);

    // A background process that let go of the output does not hold this command or the next one.
    const marker = path.join(dir, 'leftover.pid');
    const quick = Date.now();
    await viaLauncher(`sleep 3 >/dev/null 2>&1 & echo $! > ${marker}`);
    const next = await viaLauncher('echo next');
    expect(next.stdout).toBe('next\n');
    expect(Date.now() - quick).toBeLessThan(2500);
    process.kill(Number((await readFile(marker, 'utf8')).trim()), 'SIGKILL');
  });

  it('runs each command in a process group of its own and delivers a signal sent before the start', async () => {
    const group = await viaLauncher('echo "$$ $(ps -o pgid= -p $$)"');
    const [pid, pgid] = group.stdout.trim().split(/\s+/).map(Number);
    expect(pgid).toBe(pid);

    await warmBashLauncher();
    const child = startBash('sleep 30 & sleep 30; wait', options());
    child.signalGroup('SIGTERM'); // before the launcher has even read the request
    const started = Date.now();
    const result = await finish(child);
    expect(result.code).toBe(128 + 15);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('starts a new launcher when one has used its pipes, and keeps every command correct', async () => {
    const launchers = new Set<number>();
    for (let i = 0; i < 70; i++) {
      const result = await viaLauncher(`echo ${i}`);
      expect(result.stdout).toBe(`${i}\n`);
      launchers.add(result.launcher);
    }
    expect(launchers.size).toBeGreaterThanOrEqual(2);
  });

  it('a command with a NUL byte is refused as a direct spawn refuses it, and the launcher stays usable', async () => {
    await warmBashLauncher();
    expect(() => startBash('echo a\0b', options())).toThrow(/null bytes/);
    expect((await viaLauncher('echo fine')).stdout).toBe('fine\n');
  });

  it('a working directory that cannot be entered is a clear error; a good one is used', async () => {
    expect((await viaLauncher('pwd', { cwd: dir })).stdout).toBe(`${dir}\n`);
    await expect(finish(startBash('pwd', options({ cwd: path.join(dir, 'missing') })))).rejects.toThrow(
      /working directory .*missing does not exist/,
    );
    expect((await viaLauncher('echo still fine')).stdout).toBe('still fine\n');
  });

  it('a second command while the launcher is busy is spawned directly', async () => {
    await warmBashLauncher();
    const first = finish(startBash(`sleep 0.3; ${READ_PARENT}; echo "one $parent"`, options()));
    const second = finish(startBash(`${READ_PARENT}; echo "two $parent"`, options()));
    const [one, two] = await Promise.all([first, second]);
    expect(one.stdout).toMatch(/^one \d+\n$/);
    expect(two.stdout).toBe(`two ${process.pid}\n`);
    expect(one.stdout).not.toBe(`one ${process.pid}\n`);
  });

  it('the process-tree walk sees the running command but never the launcher', async () => {
    await warmBashLauncher();
    const child = startBash('sleep 20', options());
    const done = finish(child);
    let pids: number[] = [];
    for (const deadline = Date.now() + 5000; pids.length === 0 && Date.now() < deadline;) {
      await sleep(20);
      pids = listTaskProcesses(process.pid);
    }
    const launchers = bashLauncherPids();
    expect(launchers.length).toBeGreaterThan(0);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter((pid) => launchers.includes(pid))).toEqual([]);
    child.signalGroup('SIGKILL');
    expect((await done).code).toBe(128 + 9);
    expect(listTaskProcesses(process.pid)).toEqual([]);
  });

  it('a launcher that dies under a command fails that command, and the next one gets a new launcher', async () => {
    const { launcher } = await viaLauncher('true');
    const child = startBash('sleep 0.5; echo done', options());
    const outcome = finish(child);
    await sleep(100);
    process.kill(launcher, 'SIGKILL');
    await expect(outcome).rejects.toThrow(/launcher exited/);
    const next = await viaLauncher('echo again');
    expect(next.stdout).toBe('again\n');
    expect(next.launcher).not.toBe(launcher);
  });

  it('a second copy of the module (a DAG importing its own install) registers its launcher too', async () => {
    const copy = (await import(
      '../../src/worker/bash-launcher.ts?second-copy' as string
    )) as typeof import('../../src/worker/bash-launcher.js');
    expect(copy.BashLauncher).not.toBe(BashLauncher);
    const copyLauncher = copy.BashLauncher.start();
    await copyLauncher.whenSettled();
    const held = copyLauncher.launch(`${READ_PARENT}; echo "$parent"; exec sleep 20`, options());
    held.stderr.resume();
    const firstLine = new Promise<string>((resolve) =>
      held.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    const done = held.exited;
    const launcher = Number((await firstLine).trim());
    expect(launcher).not.toBe(process.pid);
    // This copy of process-tree sees the copy's running command, and not the copy's launcher.
    const pids = listTaskProcesses(process.pid);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids).not.toContain(launcher);
    held.signalGroup('SIGKILL');
    expect(await done).toBe(128 + 9);
  });

  it('a bash that cannot run the launcher is tried once, and commands are spawned directly', async () => {
    // A `bash` first on the launcher's PATH that counts its starts and exits at once; the
    // commands themselves get a PATH with the real bash.
    const fakeDir = path.join(dir, 'fake-bash');
    const counter = path.join(dir, 'fake-bash.count');
    await mkdir(fakeDir, { recursive: true });
    await writeFile(path.join(fakeDir, 'bash'), `#!/bin/sh\necho started >> ${counter}\nexit 2\n`, {
      mode: 0o755,
    });
    const entry = new URL('../../dist/worker/bash-starter.js', import.meta.url).href;
    const script = `
      const { startBash, warmBashLauncher } = await import(${JSON.stringify(entry)});
      const env = { PATH: '/usr/bin:/bin' };
      await warmBashLauncher();
      const outputs = [];
      for (let i = 0; i < 3; i++) {
        const child = startBash('echo "run $0"', { env, cwd: undefined });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.resume();
        await child.exited;
        outputs.push(out.trim());
      }
      console.log(JSON.stringify(outputs));`;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PATH: `${fakeDir}:${process.env.PATH ?? ''}` },
    });
    expect(JSON.parse(stdout)).toEqual(['run bash', 'run bash', 'run bash']);
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toEqual(['started']);
  });

  it('the launcher does not read ~/.bashrc (bash reads it when stdin is a socket and SHLVL is unset)', async () => {
    // Debian's bash treats a socket on stdin as a remote shell and sources ~/.bashrc; Node's
    // stdio pipes are sockets. What .bashrc exports must not reach the commands, and a .bashrc
    // that hangs (a pyenv rehash waiting on its lock) must not keep the launcher from starting.
    const home = path.join(dir, 'home-with-bashrc');
    const marker = path.join(home, 'sourced');
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, '.bashrc'), `echo sourced >> ${marker}\nexport FROM_BASHRC=1\n`);
    const entry = new URL('../../dist/worker/bash-starter.js', import.meta.url).href;
    const script = `
      const { startBash, warmBashLauncher, bashLauncherPids } = await import(${JSON.stringify(entry)});
      await warmBashLauncher();
      const child = startBash(${JSON.stringify(`${READ_PARENT}; echo "$parent \${FROM_BASHRC-unset}"`)}, { env: process.env, cwd: undefined });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.resume();
      await child.exited;
      const [parent, value] = out.trim().split(' ');
      console.log(JSON.stringify({ viaLauncher: bashLauncherPids().includes(Number(parent)), value }));`;
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.SHLVL;
    delete env.SSH_CLIENT;
    delete env.SSH2_CLIENT;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { env });
    expect(JSON.parse(stdout)).toEqual({ viaLauncher: true, value: 'unset' });
    await expect(readFile(marker, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('a process that runs one command never starts a launcher; the second command starts one', async () => {
    const entry = new URL('../../dist/worker/bash-starter.js', import.meta.url).href;
    const script = `
      const { startBash, bashLauncherPids } = await import(${JSON.stringify(entry)});
      const parentOf = async () => {
        const child = startBash(${JSON.stringify(`${READ_PARENT}; echo $parent`)}, { env: process.env, cwd: undefined });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.resume();
        await child.exited;
        return Number(out.trim());
      };
      const first = await parentOf();
      const afterFirst = bashLauncherPids().length;
      await parentOf();
      console.log(JSON.stringify({ firstDirect: first === process.pid, afterFirst, afterSecond: bashLauncherPids().length }));`;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual({ firstDirect: true, afterFirst: 0, afterSecond: 1 });
  });
});

describe('a job forked from the launcher (the default) is what `bash -c` would be', () => {
  /** Prints the shell's own command line (builtins only: an external command would be a child). */
  const COMMAND_LINE = 'mapfile -d \'\' args < /proc/$BASHPID/cmdline; echo "${args[*]}"';
  /**
   * Everything a command can see of its shell, less what changes from one shell to the next (pids,
   * clocks, random numbers) and `$_`; then a missing command, a second line and an exit status.
   */
  const SHELL_STATE = [
    `declare -p | grep -vE '^declare -[-a-zA-Z]+ (BASHPID|PPID|RANDOM|SRANDOM|EPOCHREALTIME|EPOCHSECONDS|SECONDS|BASH_COMMAND|_)='`,
    'echo "$0|$#|$-|$LINENO|$BASH_SUBSHELL|$SHLVL|$PWD|${OLDPWD-unset}"; shopt -p; set -o; trap -p; declare -F; umask',
    'env | grep -E "^(PWD|OLDPWD|SHLVL)=" | sort',
    'no-such-command-here',
    'echo "line $LINENO"; exit 3',
  ].join('\n');
  it('has the shell state, environment, messages and exit status of a direct spawn', async () => {
    // A working directory that is not this process's, so PWD inherited from here is stale, as
    // bash -c finds it when the runner sets a cwd; an OLDPWD; no SHLVL, then a set one.
    for (const shlvl of [undefined, '4']) {
      const env: NodeJS.ProcessEnv = { ...process.env, OLDPWD: '/usr', SHLVL: shlvl };
      const launched = await viaLauncher(SHELL_STATE, { env, cwd: dir });
      // The same text as the launched one (which also reads $BASHPID before the rest).
      const direct = await finish(
        spawnBashDirectly(reportingParent(SHELL_STATE), options({ env, cwd: dir })),
      );
      direct.stderr = direct.stderr.replace(/parent=\d+\n/, '');
      expect(launched.code).toBe(3);
      expect(launched.code).toBe(direct.code);
      expect(launched.stderr).toBe(direct.stderr);
      expect(launched.stderr).toMatch(/^bash: line 4: no-such-command-here: command not found\n$/);
      expect(launched.stdout).toBe(direct.stdout);
      expect(launched.stdout).toContain(`PWD=${dir}\n`);
      expect(launched.stdout).toContain(`SHLVL=${shlvl === undefined ? 1 : 5}\n`);
      expect(launched.stdout).toContain('line 5\n');
      expect(launched.stdout).not.toContain('__updraft_');
    }
  });

  it('runs in the launcher subshell, not in a fresh bash', async () => {
    // The job's own process is a fork of the launcher, whose command line it keeps.
    const result = await viaLauncher(COMMAND_LINE);
    expect(result.stdout).toContain('--norc');
  });

  it('a command naming $$, or an environment setting what bash sets at start, gets a fresh bash', async () => {
    const pids = await viaLauncher(`echo "$$ $BASHPID"; ${COMMAND_LINE}`);
    const [own, shell] = pids.stdout.split(/\s+/);
    expect(own).toBe(shell);
    expect(pids.stdout).not.toContain('--norc');
    // `kill $$` ends the command, not the launcher: the next command runs on the same one.
    const killed = await viaLauncher('kill -TERM $$');
    expect(killed.code).toBe(128 + 15);
    expect((await viaLauncher('true')).launcher).toBe(killed.launcher);

    // bash -c resets an inherited IFS (and keeps it exported at its default).
    const env = { ...process.env, IFS: ':' };
    const ifs = 'printf "%q\\n" "$IFS"; env | grep -c "^IFS="';
    const launched = await viaLauncher(ifs, { env });
    expect(launched.stdout).toBe((await finish(spawnBashDirectly(ifs, options({ env })))).stdout);
    expect(launched.stdout).toBe("$' \\t\\n'\n1\n");
  });

  it('with UPDRAFT_BASH_LAUNCHER=exec every job is a fresh bash -c', async () => {
    const launcher = BashLauncher.start('exec');
    await launcher.whenSettled();
    const result = await finish(launcher.launch(`${COMMAND_LINE}; exit 4`, options()));
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/^bash -c /);
  });
});
