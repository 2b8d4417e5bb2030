/** Quote a string for a POSIX shell. */
export function sq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Wrap a command so it runs as root from a non-root login (sudo without a password prompt). */
export function privileged(command: string, loginIsRoot: boolean): string {
  return loginIsRoot ? command : `sudo -n -H -- sh -c ${sq(command)}`;
}

/** A read that says "missing" with exit code 3 instead of failing. */
export function catIfExists(path: string): string {
  return `if [ -e ${sq(path)} ]; then cat -- ${sq(path)}; else exit 3; fi`;
}
