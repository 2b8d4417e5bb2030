import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { BashProcess, BashStartOptions } from '../dag/operators/bash-process.js';

/**
 * A small resident `bash` that starts BashOperator commands for this process.
 *
 * Why: libuv starts a child with fork(), not vfork or posix_spawn, so every spawn from Node copies
 * the page tables of the whole Node process; the child then tears them down again at exec, and
 * the parent takes copy-on-write faults on its heap until then. A task process holds ~50 MB of
 * anonymous memory, which makes each spawn cost a few ms of CPU, more than the task runner's own
 * work for a short command. Forking from a 4 MB bash costs a fraction of that.
 *
 * How: the launcher is spawned once with SLOTS pairs of pipes (fds 4, 5, 6, 7 …) beside a status
 * pipe (fd 3). Each command gets a fresh pair as its stdout and stderr, and the launcher closes its
 * own ends at once, so the reader sees EOF exactly when every process holding them is gone, as
 * with a direct spawn. The job starts in its own process group (`set -m`). A request on stdin
 * gives the slot, cwd, the variables to set and to unset (the difference between the job's
 * environment and the launcher's), fork or exec, and the command (see request()). The launcher
 * answers on fd 3:
 * `R` once it is ready (only then does it take commands), `S<pid>` when a job started, `C` when
 * its cwd could not be entered, `X<status>` when it ended. A launcher whose slots are used up
 * exits; its successor is started when the last slot is taken.
 */

const SLOTS = 32;
/** Digits of a request's length header (see request()). */
const HEADER_DIGITS = 8;
const STATUS_FD = 3;
const FIRST_SLOT_FD = 4;
const END_FD = FIRST_SLOT_FD + 2 * SLOTS;
/** The launcher's own variables; an environment that uses the prefix is spawned directly. */
const PREFIX = '__updraft_';
/**
 * Variables bash keeps up to date in its own environment (SHLVL counts the launcher; PWD and
 * OLDPWD follow its cd; `_` is the last command): always set to the job's value, or unset.
 */
const SHELL_MANAGED = new Set(['SHLVL', '_', 'PWD', 'OLDPWD']);
/**
 * Variables bash reads at startup or will not let a script export (SHELLOPTS and BASHOPTS are
 * read-only): the launcher starts without them, and a job that needs them is spawned directly.
 */
const NOT_THROUGH_LAUNCHER = new Set(['BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'POSIXLY_CORRECT']);
/** `$$` and `${$}` name the shell's own pid, which in a forked job would be the launcher's. */
const USES_OWN_PID = /\$\$|\$\{#?\$/;
/**
 * Variables a starting `bash -c` sets itself, refuses (read-only) or resets (IFS) whatever the
 * environment says: exported into a forked job they would take effect, so such a job execs.
 */
const SET_BY_BASH_AT_START =
  /^(?:IFS|UID|EUID|PPID|GROUPS|LINENO|SECONDS|RANDOM|SRANDOM|HISTCMD|FUNCNAME|PIPESTATUS|DIRSTACK|BASH|BASH_\w*|EPOCH\w*|COMP_\w*)$/;
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The launcher's variable `name`, spelt so that no command's variable can collide with it. */
const v = (name: string): string => PREFIX + name;
const LAUNCHER_VARIABLES = ['c', 'a', 'u', 'v', 'l', 'q', 's', 'w', 'o', 'e', 'f', 'k', 'p'].map(v);

/**
 * The launcher script, as ONE line, separated by `;` (each piece ends with its own separator):
 * bash numbers the lines of an eval'd string from the line of the `eval`, so a forked job's eval
 * on line 1 reports LINENO and `line N:` in its messages as `bash -c` does.
 */
const SCRIPT = [
  'set -m;',
  `${v('c')}='';`,
  `for ((${v('f')} = ${FIRST_SLOT_FD}; ${v('f')} < ${END_FD}; ${v('f')}++)); do ${v('c')}+=" $${v('f')}>&-"; done;`,
  `printf 'R\\n' >&${STATUS_FD};`,
  // A request is its length in bytes (HEADER_DIGITS digits), then that many bytes of assignments
  // (see request()). `read -N` on a pipe reads in blocks; `read -d` would read one byte per
  // system call. LC_ALL=C makes -N count bytes rather than characters.
  `while IFS= LC_ALL=C read -r -N ${HEADER_DIGITS} ${v('l')} && IFS= LC_ALL=C read -r -N "$((10#$${v('l')}))" ${v('q')}; do`,
  `${v('a')}=(); ${v('u')}=(); eval "$${v('q')}";`,
  `${v('o')}=$((${FIRST_SLOT_FD} + 2 * ${v('s')})); ${v('e')}=$((${v('o')} + 1));`,
  '(',
  `if [[ -n $${v('w')} ]] && ! cd -- "$${v('w')}" 2>/dev/null; then printf 'C\\n' >&${STATUS_FD}; exit 127; fi;`,
  `((\${#${v('u')}[@]} == 0)) || unset -v "\${${v('u')}[@]}";`,
  `((\${#${v('a')}[@]} == 0)) || export "\${${v('a')}[@]}";`,
  // exec: a fresh `bash -c`. The fds are trusted numbers, expanded before eval; the command is
  // expanded by eval, quoted.
  `if [[ $${v('k')} == exec ]]; then`,
  `eval "exec bash -c \\"\\$${v('x')}\\" </dev/null >&$${v('o')} 2>&$${v('e')} ${STATUS_FD}>&-$${v('c')}";`,
  'fi;',
  // fork: this subshell turns into what `bash -c` would be (see the notes on LaunchMode): no job
  // control, a PWD that names the working directory (bash -c checks the inherited one), the
  // job's fds only, none of the launcher's variables, BASH_EXECUTION_STRING, then the command.
  'set +m;',
  `if [[ \${PWD-} != /* || ! \${PWD-} -ef . ]]; then`,
  `if [[ -v OLDPWD ]]; then ${v('v')}=$OLDPWD; builtin cd -P .; OLDPWD=$${v('v')}; else builtin cd -P .; unset -v OLDPWD; fi;`,
  'export PWD;',
  'fi;',
  `eval "exec </dev/null >&$${v('o')} 2>&$${v('e')} ${STATUS_FD}>&-$${v('c')}";`,
  `unset -v ${LAUNCHER_VARIABLES.join(' ')};`,
  `BASH_EXECUTION_STRING=$${v('x')}; BASH_SUBSHELL=0;`,
  `eval "unset -v ${v('x')}; $${v('x')}"`,
  ') &',
  `${v('p')}=$!;`,
  // The used pair is closed here and dropped from the list every later job closes: each
  // redirection costs bash a few system calls, and most slots are used up before a launcher ends.
  `exec {${v('o')}}>&- {${v('e')}}>&-; ${v('c')}=\${${v('c')}/" $${v('o')}>&- $${v('e')}>&-"/};`,
  `printf 'S%s\\n' "$${v('p')}" >&${STATUS_FD};`,
  `wait "$${v('p')}";`,
  `printf 'X%s\\n' "$?" >&${STATUS_FD};`,
  'done',
].join(' ');

/**
 * Pids of this process's launchers, from start until reaped, kept on globalThis: a DAG file may
 * load its own copy of this module (another install of the package), and the runner's
 * process-tree walk must still know every launcher for what it is.
 */
const REGISTRY = Symbol.for('updraft.bashLauncherPids');

function launcherRegistry(): Set<number> {
  const holder = globalThis as { [REGISTRY]?: Set<number> };
  return (holder[REGISTRY] ??= new Set());
}

/** This process's launchers: they are the runner's own, while their children are the task's. */
export function bashLauncherPids(): number[] {
  return [...launcherRegistry()];
}

/**
 * How a job runs its command.
 *
 * exec: the job's subshell execs a fresh `bash -c COMMAND`, exactly as a direct spawn would.
 *
 * fork (the default): the subshell itself runs the command, with `eval`. A fresh bash costs
 * ~1 ms of CPU per command (exec, the dynamic loader, bash's own start-up), about a fifth of all
 * the CPU a one-line task takes; the fork is already paid for. The subshell first turns into what
 * `bash -c` would be: job control off, the job's environment, SHLVL counted up, a PWD that names
 * the working directory, none of the launcher's variables, BASH_EXECUTION_STRING and
 * BASH_SUBSHELL as bash -c has them, and LINENO counting from 1 (the eval is on line 1). The test
 * compares variables, options, traps, functions, umask and messages with a direct spawn. What
 * still differs: PIPESTATUS is set before the first command; a syntax error is reported by
 * `bash: eval: line N:` instead of `bash: -c: line N:`; `$_` before the first command; a last
 * command that is a program runs as a child of the subshell instead of replacing it, and sees
 * SHLVL counted up. (`$PPID` is this process, as with a direct spawn; exec's is the launcher.)
 * A command that names `$$` (a subshell's `$$` would be the launcher's pid) and an environment
 * that sets a variable bash sets itself at start (SET_BY_BASH_AT_START) take the exec way.
 */
export type LaunchMode = 'fork' | 'exec';

interface Job {
  stdout: Socket;
  stderr: Socket;
  cwd: string | undefined;
  pid: number | undefined;
  heldSignal: NodeJS.Signals | undefined;
  cwdFailed: boolean;
  status: number | undefined;
  openStreams: number;
  resolve: (code: number | null) => void;
  reject: (error: Error) => void;
}

export class BashLauncher {
  private readonly child: ChildProcess;
  private readonly baseEnv: Record<string, string>;
  private readonly mode: LaunchMode;
  private nextSlot = 0;
  private job: Job | null = null;
  private ready = false;
  private dead: Error | null = null;
  private readonly readyWaiters: (() => void)[] = [];
  private statusBuffer = '';

  private constructor(child: ChildProcess, baseEnv: Record<string, string>, mode: LaunchMode) {
    this.child = child;
    this.baseEnv = baseEnv;
    this.mode = mode;
    const pid = child.pid;
    if (pid !== undefined) launcherRegistry().add(pid);
    child.on('error', (error) => this.died(error));
    child.on('exit', () => {
      if (pid !== undefined) launcherRegistry().delete(pid);
      this.died(new Error('The bash launcher exited'));
    });
    // A write to a launcher that has just died fails here; the death itself is reported above.
    child.stdin?.on('error', () => undefined);
    const status = this.status();
    status.setEncoding('utf8');
    status.on('data', (text: string) => this.onStatus(text));
    status.on('end', () => this.died(new Error('The bash launcher exited')));
    // Idle, the launcher must not keep this process alive (or count as a handle the task left).
    child.unref();
    for (const stream of child.stdio) (stream as Socket | null)?.unref();
  }

  static start(mode: LaunchMode = 'fork'): BashLauncher {
    const baseEnv: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && VALID_NAME.test(name) && !NOT_THROUGH_LAUNCHER.has(name)) {
        baseEnv[name] = value;
      }
    }
    const stdio: ('pipe' | 'ignore')[] = ['pipe', 'ignore', 'ignore', 'pipe'];
    for (let fd = FIRST_SLOT_FD; fd < END_FD; fd++) stdio.push('pipe');
    // --norc: Node's stdio pipes are sockets, and a bash whose stdin is a socket takes itself for
    // a remote shell and sources ~/.bashrc when SHLVL is unset (Debian builds it so). That would
    // export whatever .bashrc exports into every job, and a .bashrc that hangs (pyenv's rehash
    // waiting on its lock) would keep the launcher from ever becoming ready.
    const child = spawn('bash', ['--norc', '-c', SCRIPT], { env: baseEnv, detached: true, stdio });
    return new BashLauncher(child, baseEnv, mode);
  }

  /** Dead, or every slot used: start a new launcher for the next command. */
  isSpent(): boolean {
    return this.dead !== null || (this.nextSlot >= SLOTS && this.job === null);
  }

  /** Died before it was ever ready: bash here cannot run the launcher (too old, say). */
  neverWorked(): boolean {
    return this.dead !== null && !this.ready;
  }

  hasSlotsLeft(): boolean {
    return this.nextSlot < SLOTS;
  }

  /** Resolves once the launcher is ready or dead. */
  whenSettled(): Promise<void> {
    if (this.ready || this.dead) return Promise.resolve();
    this.child.ref(); // someone is waiting: keep this process alive until the launcher settles
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Ready, free, with a slot left, and able to give the job exactly this environment. */
  canLaunch(env: NodeJS.ProcessEnv): boolean {
    if (!this.ready || this.dead || this.job || this.nextSlot >= SLOTS) return false;
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      if (!VALID_NAME.test(name) || name.startsWith(PREFIX) || NOT_THROUGH_LAUNCHER.has(name)) return false;
      if (value.includes('\0')) return false;
    }
    return true;
  }

  launch(command: string, options: BashStartOptions): BashProcess {
    const slot = this.nextSlot;
    const forks = this.mode === 'fork' && canFork(command, options.env);
    // Built before anything changes: a request that cannot be built leaves the launcher as it was.
    const message = request({
      slot,
      cwd: options.cwd ?? '',
      forks,
      command,
      ...this.environmentChanges(options.env, forks),
    });
    this.nextSlot += 1;
    const stdout = this.child.stdio[FIRST_SLOT_FD + 2 * slot] as Socket;
    const stderr = this.child.stdio[FIRST_SLOT_FD + 2 * slot + 1] as Socket;
    let job!: Job;
    const exited = new Promise<number | null>((resolve, reject) => {
      job = {
        stdout,
        stderr,
        cwd: options.cwd,
        pid: undefined,
        heldSignal: undefined,
        cwdFailed: false,
        status: undefined,
        openStreams: 2,
        resolve,
        reject,
      };
    });
    this.job = job;
    // While the job runs, its pipes and the status pipe keep this process alive.
    for (const stream of [stdout, stderr, this.status()]) stream.ref();
    for (const stream of [stdout, stderr]) {
      stream.once('end', () => {
        // Closed now, not when the socket gets round to it: an open pipe counts as a handle the
        // task left behind (see isStillClean in task-process-main.ts).
        stream.unref();
        stream.destroy();
        job.openStreams -= 1;
        this.settle(job);
      });
    }
    this.child.stdin?.write(message);
    return {
      stdout,
      stderr,
      exited,
      signalGroup: (signal) => {
        if (job.pid === undefined) job.heldSignal = signal;
        else signalGroup(job.pid, signal);
      },
    };
  }

  private status(): Socket {
    return this.child.stdio[STATUS_FD] as Socket;
  }

  private environmentChanges(
    requested: NodeJS.ProcessEnv,
    forks: boolean,
  ): { sets: string[]; unsets: string[] } {
    // A forked job is its own `bash -c`, which counts itself in SHLVL.
    const env = forks ? { ...requested, SHLVL: String(nextShellLevel(requested.SHLVL)) } : requested;
    const sets: string[] = [];
    const unsets: string[] = [];
    for (const [name, value] of Object.entries(env)) {
      if (value !== undefined && (SHELL_MANAGED.has(name) || this.baseEnv[name] !== value)) {
        sets.push(`${name}=${value}`);
      }
    }
    for (const name of Object.keys(this.baseEnv)) if (env[name] === undefined) unsets.push(name);
    for (const name of SHELL_MANAGED)
      if (env[name] === undefined && !(name in this.baseEnv)) unsets.push(name);
    return { sets, unsets };
  }

  private onStatus(text: string): void {
    this.statusBuffer += text;
    for (let end = this.statusBuffer.indexOf('\n'); end >= 0; end = this.statusBuffer.indexOf('\n')) {
      const line = this.statusBuffer.slice(0, end);
      this.statusBuffer = this.statusBuffer.slice(end + 1);
      if (line === 'R') {
        this.ready = true;
        this.wakeWaiters();
        continue;
      }
      const job = this.job;
      if (!job) continue;
      if (line.startsWith('S')) {
        job.pid = Number(line.slice(1));
        if (job.heldSignal) signalGroup(job.pid, job.heldSignal);
      } else if (line === 'C') {
        job.cwdFailed = true;
      } else if (line.startsWith('X')) {
        job.status = Number(line.slice(1));
        this.settle(job);
      }
    }
  }

  /** The job is done once it has exited and both of its pipes are closed. */
  private settle(job: Job): void {
    if (job.status === undefined || job.openStreams > 0 || this.job !== job) return;
    this.job = null;
    if (!this.dead) this.status().unref();
    // A spent launcher exits when its stdin closes; the next command starts a new one.
    if (this.nextSlot >= SLOTS) this.child.stdin?.end();
    if (job.cwdFailed) {
      job.reject(new Error(`The working directory ${job.cwd ?? ''} does not exist or cannot be entered`));
    } else {
      job.resolve(job.status);
    }
  }

  private wakeWaiters(): void {
    if (this.readyWaiters.length === 0) return;
    this.child.unref();
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  private died(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    this.wakeWaiters();
    // Pipes no command will use are closed now rather than whenever they are collected.
    for (let slot = this.nextSlot; slot < SLOTS; slot++) {
      for (const fd of [FIRST_SLOT_FD + 2 * slot, FIRST_SLOT_FD + 2 * slot + 1]) {
        (this.child.stdio[fd] as Socket | null)?.destroy();
      }
    }
    const job = this.job;
    if (job && job.status === undefined) {
      this.job = null;
      // Its command may live on without the launcher; its output must not keep this process up.
      job.stdout.unref();
      job.stderr.unref();
      job.reject(error);
    }
  }
}

interface Request {
  slot: number;
  cwd: string;
  sets: string[];
  unsets: string[];
  forks: boolean;
  command: string;
}

/** One request: its byte length in HEADER_DIGITS digits, then bash assignments the launcher evals. */
function request(r: Request): Buffer {
  const text = [
    `${v('s')}=${r.slot}`,
    `${v('w')}=${quoted(r.cwd)}`,
    `${v('k')}=${r.forks ? 'fork' : 'exec'}`,
    `${v('a')}=(${r.sets.map(quoted).join(' ')})`,
    `${v('u')}=(${r.unsets.map(quoted).join(' ')})`,
    `${v('x')}=${quoted(r.command)}`,
  ].join('; ');
  const body = Buffer.from(text, 'utf8');
  // 100 MB: far beyond what exec takes in one argument (128 KB on Linux), so a direct spawn of
  // such a command would fail too.
  if (body.length >= 10 ** HEADER_DIGITS)
    throw new Error('The command and its environment are too long to run');
  return Buffer.concat([Buffer.from(String(body.length).padStart(HEADER_DIGITS, '0'), 'latin1'), body]);
}

/**
 * Bash's ANSI-C quoting, which holds any text without a NUL byte: backslash and quote escaped,
 * control characters as \xHH (exactly two digits, so a hex digit after one cannot join it).
 */
function quoted(value: string): string {
  // Control characters are what this is about (bash itself uses \x01 and \x7f as internal markers).
  // eslint-disable-next-line no-control-regex
  const escaped = value.replace(/[\\'\x01-\x1f]/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `$'${escaped}'`;
}

/** A forked job behaves as `bash -c` would, unless the command or its environment names these. */
function canFork(command: string, env: NodeJS.ProcessEnv): boolean {
  if (USES_OWN_PID.test(command)) return false;
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && SET_BY_BASH_AT_START.test(name)) return false;
  }
  return true;
}

/** The SHLVL a `bash -c` started with `inherited` gives itself (bash's adjust_shell_level). */
function nextShellLevel(inherited: string | undefined): number {
  const level = /^\s*[-+]?\d+\s*$/.test(inherited ?? '') ? Number.parseInt(inherited ?? '', 10) + 1 : 1;
  if (level < 0) return 0;
  return level >= 1000 ? 1 : level;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
