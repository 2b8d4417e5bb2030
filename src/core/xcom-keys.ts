/** The XCom keys with a meaning of their own. */

/** The key of a task's return value. */
export const RETURN_VALUE_KEY = 'return_value';

/**
 * Written by branch and short-circuit tasks; read by the scheduler to skip what is not followed:
 * `{ "followed": ["task_a", …] }` — the direct downstream tasks to keep; every other direct
 * downstream task is skipped (branch). For a short-circuit with a falsy result `followed` is []
 * and `skipAllDownstream` is true: every task downstream (transitively) is skipped.
 */
export const SKIPMIXIN_KEY = 'skipmixin_key';
export interface SkipMixinValue {
  followed: string[];
  skipAllDownstream?: boolean;
}
