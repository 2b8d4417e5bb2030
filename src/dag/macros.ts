/**
 * Airflow's `macros` namespace, for templates (`{{ macros.ds_add(ds, 7) }}`). Pure functions of
 * their arguments; dates are handled in UTC.
 */
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function parseDs(ds: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ds)) throw new Error(`expected a date like 2024-01-31, got '${ds}'`);
  return new Date(`${ds}T00:00:00Z`);
}

/** strftime subset: %Y %m %d %H %M %S %y %j %%. */
function strftime(date: Date, format: string): string {
  return format.replace(/%([YmdHMSyj%])/g, (_, code: string) => {
    switch (code) {
      case 'Y':
        return String(date.getUTCFullYear());
      case 'y':
        return pad(date.getUTCFullYear() % 100);
      case 'm':
        return pad(date.getUTCMonth() + 1);
      case 'd':
        return pad(date.getUTCDate());
      case 'H':
        return pad(date.getUTCHours());
      case 'M':
        return pad(date.getUTCMinutes());
      case 'S':
        return pad(date.getUTCSeconds());
      case 'j': {
        const start = Date.UTC(date.getUTCFullYear(), 0, 1);
        return pad(Math.floor((date.getTime() - start) / 86_400_000) + 1, 3);
      }
      default:
        return '%';
    }
  });
}

/** strptime for the same subset. */
function strptime(text: string, format: string): Date {
  const fields: string[] = [];
  const pattern = format
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%([YmdHMSy%])/g, (_, code: string) => {
      if (code === '%') return '%';
      fields.push(code);
      return code === 'Y' ? '(\\d{4})' : '(\\d{2})';
    });
  const match = new RegExp(`^${pattern}$`).exec(text);
  if (!match) throw new Error(`'${text}' does not match format '${format}'`);
  const parts: Record<string, number> = { Y: 1970, m: 1, d: 1, H: 0, M: 0, S: 0 };
  fields.forEach((f, i) => {
    const n = Number(match[i + 1]);
    parts[f === 'y' ? 'Y' : f] = f === 'y' ? 2000 + n : n;
  });
  return new Date(Date.UTC(parts.Y!, parts.m! - 1, parts.d!, parts.H!, parts.M!, parts.S!));
}

export const macros = {
  /** ds_add('2015-01-01', 5) → '2015-01-06'. */
  ds_add(ds: string, days: number): string {
    const d = parseDs(ds);
    d.setUTCDate(d.getUTCDate() + Number(days));
    return d.toISOString().slice(0, 10);
  },
  /** ds_format('2015-01-01', '%Y-%m-%d', '%m-%d-%y') → '01-01-15'. */
  ds_format(ds: string, inputFormat: string, outputFormat: string): string {
    return strftime(strptime(ds, inputFormat), outputFormat);
  },
  datetime_diff_for_humans(dt: Date | string, since?: Date | string): string {
    const a = new Date(dt).getTime();
    const b = since === undefined ? Date.now() : new Date(since).getTime();
    const s = Math.round((a - b) / 1000);
    const abs = Math.abs(s);
    const unit =
      abs < 60
        ? [abs, 'second']
        : abs < 3600
          ? [Math.round(abs / 60), 'minute']
          : abs < 86400
            ? [Math.round(abs / 3600), 'hour']
            : [Math.round(abs / 86400), 'day'];
    const text = `${unit[0]} ${unit[1]}${unit[0] === 1 ? '' : 's'}`;
    return s >= 0 ? `in ${text}` : `${text} ago`;
  },
  strftime(date: Date | string, format: string): string {
    return strftime(new Date(date), format);
  },
  json: { dumps: (v: unknown) => JSON.stringify(v), loads: (s: string) => JSON.parse(s) as unknown },
  random: () => Math.random(),
  uuid: { uuid4: () => crypto.randomUUID() },
};

export type Macros = typeof macros;
