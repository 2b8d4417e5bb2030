/**
 * The heartbeat of a running try: each beat writes the try's job row (the scheduler's zombie
 * detection reads `latest_heartbeat`) and re-reads the TI, so a clear or a mark from the UI stops
 * the task, as in Airflow ("State of this instance has been externally set to …").
 */
export interface HeartbeatOptions {
  /** Write one beat (TaskInstanceStore.heartbeat of the try's job). */
  beat: () => Promise<void>;
  intervalMs: number;
  /** Called on each beat; return false to report that the TI was changed from outside. */
  stillOurs: () => Promise<boolean>;
  onLostOwnership: () => void;
  onError?: (error: unknown) => void;
}

/** Beat until stopped. A DB hiccup is reported and the next beat tries again. */
export function startHeartbeat(options: HeartbeatOptions): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    if (stopped) return;
    try {
      await options.beat();
      if (!stopped && !(await options.stillOurs())) {
        stopped = true;
        options.onLostOwnership();
        return;
      }
    } catch (error) {
      options.onError?.(error);
    }
    if (!stopped) timer = setTimeout(beat, options.intervalMs);
  };
  timer = setTimeout(beat, options.intervalMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
