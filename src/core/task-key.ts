/** One try of one task instance: what identifies it everywhere (queue, process, store, logs). */
export interface TaskInstanceKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** One string per try, for maps and sets of tries. */
export function keyString(key: TaskInstanceKey): string {
  return `${key.dagId}\u0000${key.runId}\u0000${key.taskId}\u0000${key.mapIndex}\u0000${key.tryNumber}`;
}
