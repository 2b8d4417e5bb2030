import { homedir } from 'node:os';
import { resolve } from 'node:path';

/** AIRFLOW_HOME (default ~/airflow), always absolute. */
export function airflowHome(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.AIRFLOW_HOME?.trim();
  if (!raw) return resolve(homedir(), 'airflow');
  return resolve(raw.startsWith('~') ? homedir() + raw.slice(1) : raw);
}

/** Path of airflow.cfg: AIRFLOW_CONFIG if set, else $AIRFLOW_HOME/airflow.cfg. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.AIRFLOW_CONFIG?.trim();
  return explicit ? resolve(explicit) : resolve(airflowHome(env), 'airflow.cfg');
}
