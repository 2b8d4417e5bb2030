import { mysqlPlaybook } from './mysql.js';
import { nodeRuntimePlaybook } from './node-runtime.js';
import { airflowConfigPlaybook, orchestratorPlaybook } from './orchestrator.js';
import { redisPlaybook } from './redis.js';
import { servicesPlaybook } from './services.js';
import type { PlanInput, Step } from './types.js';

export type { Step, PlanInput, Playbook } from './types.js';

/** The whole procedure, in order. */
export function buildPlan(input: PlanInput): Step[] {
  return [
    redisPlaybook,
    mysqlPlaybook,
    nodeRuntimePlaybook,
    orchestratorPlaybook,
    airflowConfigPlaybook,
    servicesPlaybook,
  ].flatMap((p) => p(input));
}
