import { Cron } from 'croner';
import { ValidationError } from '../errors.js';
import { durationToMs, msToIsoDuration, type Duration } from './duration.js';
import type { SchedulePresetName, ScheduleSpec } from './serialized.js';

export const SCHEDULE_PRESETS: readonly SchedulePresetName[] = [
  '@once',
  '@hourly',
  '@daily',
  '@weekly',
  '@monthly',
  '@quarterly',
  '@yearly',
];

/** Cron equivalents of the presets (what Airflow uses for them). */
export const PRESET_CRON: Record<Exclude<SchedulePresetName, '@once'>, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@quarterly': '0 0 1 */3 *',
  '@yearly': '0 0 1 1 *',
};

export type ScheduleInput = string | Duration | null | undefined;

/** Parse what a DAG author wrote into the serialized schedule; bad input names the DAG. */
export function parseSchedule(input: ScheduleInput, dagId: string): ScheduleSpec | null {
  if (input === null || input === undefined || input === 'None' || input === '') return null;
  if (typeof input === 'string') {
    const text = input.trim();
    if (text === '@annually') return { kind: 'preset', name: '@yearly' };
    if (text === '@midnight') return { kind: 'preset', name: '@daily' };
    if (text.startsWith('@')) {
      if ((SCHEDULE_PRESETS as string[]).includes(text))
        return { kind: 'preset', name: text as SchedulePresetName };
      throw new ValidationError(
        `DAG '${dagId}': unknown schedule preset '${text}' (one of ${SCHEDULE_PRESETS.join(' ')})`,
      );
    }
    const fields = text.split(/\s+/);
    if (fields.length !== 5)
      throw new ValidationError(
        `DAG '${dagId}': cron schedule '${text}' must have 5 fields (minute hour day month weekday)`,
      );
    try {
      new Cron(text, { paused: true });
    } catch (error) {
      throw new ValidationError(
        `DAG '${dagId}': invalid cron schedule '${text}': ${(error as Error).message}`,
      );
    }
    return { kind: 'cron', expression: text };
  }
  let everyMs: number;
  try {
    everyMs = durationToMs(input, 'schedule');
  } catch (error) {
    throw new ValidationError(`DAG '${dagId}': ${(error as Error).message}`);
  }
  if (everyMs <= 0) throw new ValidationError(`DAG '${dagId}': schedule interval must be positive`);
  return { kind: 'interval', everyMs };
}

/** The text stored in dag.schedule_interval and shown by `dags list`. */
export function scheduleText(spec: ScheduleSpec | null): string | null {
  if (!spec) return null;
  switch (spec.kind) {
    case 'cron':
      return spec.expression;
    case 'preset':
      return spec.name;
    case 'interval':
      return msToIsoDuration(spec.everyMs);
  }
}

/** A short human description (dag.timetable_description). */
export function describeSchedule(spec: ScheduleSpec | null): string {
  if (!spec) return 'Never, external triggers only';
  switch (spec.kind) {
    case 'preset':
      if (spec.name === '@once') return 'Once, as soon as possible';
      return `${spec.name.slice(1)[0]!.toUpperCase()}${spec.name.slice(2)} (${PRESET_CRON[spec.name]})`;
    case 'cron':
      return `Cron: ${spec.expression}`;
    case 'interval':
      return `Every ${msToIsoDuration(spec.everyMs)}`;
  }
}
