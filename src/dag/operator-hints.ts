/**
 * What an operator class guarantees about its own execute(), for the task runner's fast paths.
 * Internal metadata, not part of the authoring API: a built-in operator declares its hints once
 * with declareOperatorHints, and a DAG author's subclass never inherits them (its execute() may
 * do anything), so nobody has to remember to re-declare or undo a hint.
 */
export interface OperatorHints {
  /**
   * execute() never reads prev_data_interval_*_success from the context: the runner then saves a
   * query per try when nothing else in the try can see it.
   */
  readsPreviousSuccess: boolean;
  /**
   * Every process execute() starts has ended, or left this process's tree, by the time it
   * returns: the runner then skips its walk of the process tree after a try that ran no other
   * user code.
   */
  leavesNoProcesses: boolean;
}

/** What is assumed of a class that declared nothing itself. */
const UNKNOWN_EXECUTE: OperatorHints = { readsPreviousSuccess: true, leavesNoProcesses: false };

const declared = new WeakMap<object, OperatorHints>();

/** Declare the hints of one operator class (its own execute(); subclasses get the defaults). */
export function declareOperatorHints(operatorClass: object, hints: Partial<OperatorHints>): void {
  declared.set(operatorClass, { ...UNKNOWN_EXECUTE, ...hints });
}

/** The hints of an operator instance's own class (the defaults unless that very class declared some). */
export function operatorHints(operator: object): OperatorHints {
  return declared.get(operator.constructor) ?? UNKNOWN_EXECUTE;
}
