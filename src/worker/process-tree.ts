import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { bashLauncherPids } from './bash-launcher.js';

/**
 * Killing a task means killing everything it started. A BashOperator's `bash` may start children
 * of its own, and those may have left the task's process group (setsid, `detached` spawns), so
 * killing one pid or one group is not enough. We walk the process table (Linux /proc) to find every
 * descendant and the process groups they lead, then signal all of them.
 */
interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
}

function readProcTable(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return entries; // not Linux: callers still signal the root pid and its group
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 2 (comm) may contain spaces and parentheses; the fields after the last ')' are fixed.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      entries.push({ pid: Number(name), ppid: Number(rest[1]), pgid: Number(rest[2]) });
    } catch {
      // The process ended while we were reading.
    }
  }
  return entries;
}

/**
 * /proc files read again and again (every thread's `children` after every try, a helper's
 * `cmdline`), kept open and re-read from offset 0: one read() instead of open, fstat, two reads
 * and close. A /proc file regenerates its text on a read at offset 0, and its descriptor stays
 * bound to the process it was opened for, so a pid reused by a new process never reads through
 * it (the old descriptor fails, and is dropped). Descriptors are close-on-exec (libuv opens them
 * so): the processes we start do not inherit them.
 */
const openProcFiles = new Map<string, number>();
const MAX_OPEN_PROC_FILES = 64;
const procReadBuffer = Buffer.alloc(16 * 1024);

function readProcFile(path: string): string {
  let fd = openProcFiles.get(path);
  if (fd === undefined) {
    fd = openSync(path, 'r'); // throws ENOENT like readFileSync when it does not exist
    if (openProcFiles.size >= MAX_OPEN_PROC_FILES) forgetProcFile(openProcFiles.keys().next().value!);
    openProcFiles.set(path, fd);
  }
  try {
    const length = readSync(fd, procReadBuffer, 0, procReadBuffer.length, 0);
    // Longer than the buffer (a process with thousands of children): read it the ordinary way.
    if (length === procReadBuffer.length) return readFileSync(path, 'utf8');
    return procReadBuffer.toString('utf8', 0, length);
  } catch (error) {
    forgetProcFile(path);
    throw error;
  }
}

function forgetProcFile(path: string): void {
  const fd = openProcFiles.get(path);
  openProcFiles.delete(path);
  if (fd !== undefined) closeSync(fd);
}

/** Direct children from /proc/PID/task/TID/children (cheap; needs CONFIG_PROC_CHILDREN). Null if unavailable. */
function childrenOf(pid: number): number[] | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return existsSync('/proc/self/task') ? [] : null; // the process is gone (or no /proc at all)
  }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readProcFile(`/proc/${pid}/task/${tid}/children`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(pid)) return null;
      continue;
    }
    for (const part of text.split(' ')) if (part.trim() !== '') out.push(Number(part));
  }
  return out;
}

/** Every descendant of `rootPid` (children, grandchildren …), not including the root. */
export function listDescendants(rootPid: number): number[] {
  const direct = childrenOf(rootPid);
  if (direct !== null) {
    const out: number[] = [];
    const stack = [...direct];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      out.push(pid);
      stack.push(...(childrenOf(pid) ?? []));
    }
    return out;
  }
  const table = readProcTable();
  const children = new Map<number, number[]>();
  for (const e of table) {
    const list = children.get(e.ppid) ?? [];
    list.push(e.pid);
    children.set(e.ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(rootPid) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function signalQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // Already gone, or not ours.
  }
}

/**
 * Signal the descendants of `rootPid` (and `rootPid` itself unless `includeRoot` is false), plus
 * every process group a descendant leads. The snapshot is taken before signalling, so processes
 * orphaned by the first kills are still reached.
 */
export function signalProcessTree(rootPid: number, signal: NodeJS.Signals, includeRoot = true): number[] {
  const descendants = listDescendants(rootPid);
  const table = new Map(readProcTable().map((e) => [e.pid, e]));
  const ownGroup = process.pid > 0 ? table.get(process.pid)?.pgid : undefined;
  const groups = new Set<number>();
  for (const pid of descendants) {
    const pgid = table.get(pid)?.pgid;
    // Never signal our own group from inside it (that would kill the caller).
    if (pgid !== undefined && pgid > 1 && pgid !== ownGroup) groups.add(pgid);
  }
  if (includeRoot) {
    const rootGroup = table.get(rootPid)?.pgid;
    if (rootGroup === rootPid && rootGroup !== ownGroup) groups.add(rootGroup);
  }
  for (const g of groups) signalQuietly(-g, signal);
  for (const pid of descendants) signalQuietly(pid, signal);
  if (includeRoot) signalQuietly(rootPid, signal);
  return descendants;
}

/**
 * SIGTERM the tree, wait up to `graceMs` for it to go, then SIGKILL whatever is left (including
 * processes that appeared in the meantime). Resolves when nothing of the tree is alive.
 */
export async function killProcessTree(rootPid: number, graceMs: number, includeRoot = true): Promise<void> {
  const first = signalProcessTree(rootPid, 'SIGTERM', includeRoot);
  const tracked = new Set(includeRoot ? [rootPid, ...first] : first);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && [...tracked].some(isAlive)) {
    await new Promise((r) => setTimeout(r, 25));
  }
  for (const pid of includeRoot && isAlive(rootPid) ? listDescendants(rootPid) : []) tracked.add(pid);
  if (!includeRoot) for (const pid of listDescendants(rootPid)) tracked.add(pid);
  signalProcessTree(rootPid, 'SIGKILL', includeRoot);
  for (const pid of tracked) if (isAlive(pid)) signalQuietly(pid, 'SIGKILL');
  const hardDeadline = Date.now() + 2000;
  while (Date.now() < hardDeadline && [...tracked].some(isAlive)) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Helper processes the runner itself keeps (esbuild's compile service, started by the DAG file
 * loader) are not the task's, and must survive between tasks.
 */
function isRunnerHelper(pid: number): boolean {
  try {
    const cmdline = readProcFile(`/proc/${pid}/cmdline`).split('\0');
    return cmdline.some((a) => /(^|\/)esbuild$/.test(a)) && cmdline.some((a) => a.startsWith('--service='));
  } catch {
    return false;
  }
}

/**
 * Descendants of `rootPid` that belong to the task: everything except the runner's helpers (and
 * their children). Helpers are the runner's own direct children, so the walk starts below the root
 * without them and never enters their trees (the runner checks this after every try). The bash
 * launcher is the runner's too, but what it started is the task's: the walk skips the launcher
 * and takes its children.
 */
export function listTaskProcesses(rootPid: number): number[] {
  const launchers = rootPid === process.pid ? new Set(bashLauncherPids()) : new Set<number>();
  const direct = childrenOf(rootPid);
  if (direct === null) {
    const all = listDescendants(rootPid).filter((pid) => !launchers.has(pid));
    const helpers = all.filter(isRunnerHelper);
    if (helpers.length === 0) return all;
    const excluded = new Set(helpers.flatMap((h) => [h, ...listDescendants(h)]));
    return all.filter((pid) => !excluded.has(pid));
  }
  const out: number[] = [];
  const stack: number[] = [];
  for (const pid of direct) {
    if (launchers.has(pid)) stack.push(...(childrenOf(pid) ?? []));
    else if (!isRunnerHelper(pid)) stack.push(pid);
  }
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(childrenOf(pid) ?? []));
  }
  return out;
}

/** SIGTERM each process's tree, wait up to `graceMs`, then SIGKILL what is left. */
export async function killTrees(pids: number[], graceMs: number): Promise<void> {
  if (pids.length === 0) return;
  const tracked = new Set<number>();
  for (const pid of pids) {
    tracked.add(pid);
    for (const d of signalProcessTree(pid, 'SIGTERM')) tracked.add(d);
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && [...tracked].some(isAlive)) await new Promise((r) => setTimeout(r, 25));
  for (const pid of tracked) if (isAlive(pid)) signalProcessTree(pid, 'SIGKILL');
}
