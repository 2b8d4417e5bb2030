/**
 * When a failed try may run again. Airflow's rules: a task has `retries` extra tries
 * (max_tries = retries); the try that failed is retried while try_number <= max_tries. The delay is
 * retry_delay, doubled per earlier try with retry_exponential_backoff, never above max_retry_delay
 * (or one day, Airflow's hard cap for backoff).
 */
export interface RetrySettings {
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
}

const BACKOFF_CAP_MS = 24 * 3600_000;

export function canRetry(tryNumber: number, maxTries: number): boolean {
  return tryNumber <= maxTries;
}

/** Delay before the try after `failedTryNumber` (1-based). */
export function retryDelayMs(settings: RetrySettings, failedTryNumber: number): number {
  let delay = settings.retryDelayMs;
  if (settings.retryExponentialBackoff) {
    delay = Math.min(settings.retryDelayMs * 2 ** Math.max(0, failedTryNumber - 1), BACKOFF_CAP_MS);
  }
  if (settings.maxRetryDelayMs !== null) delay = Math.min(delay, settings.maxRetryDelayMs);
  return Math.max(0, Math.round(delay));
}

export function nextRetryAt(settings: RetrySettings, failedTryNumber: number, endedAt: number): number {
  return endedAt + retryDelayMs(settings, failedTryNumber);
}
