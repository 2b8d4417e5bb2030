/** Sensors in poke and reschedule mode, with soft-fail and a function sensor; all finish on their own within seconds. */
import {
  BashOperator,
  DAG,
  DateTimeSensor,
  FileSensor,
  FunctionSensor,
  getCurrentContext,
  task,
  TimeDeltaSensor,
} from 'updraft';

/** Done a second after the try started; its value goes to XCom like Airflow's PokeReturnValue. */
const waitForASecond = task.sensor(
  { pokeInterval: 1, timeout: 30, mode: 'poke' },
  function wait_for_a_second() {
    const { ti } = getCurrentContext();
    return { done: Date.now() - ti.startDate.getTime() > 1000, xcom: 'waited' };
  },
);

export const dag = new DAG({
  dagId: 'example_sensors',
  schedule: null,
  startDate: '2021-01-01',
  catchup: false,
  tags: ['example'],
}).build(() => {
  const t0 = new TimeDeltaSensor({
    taskId: 'wait_for_time_delta',
    delta: { seconds: 1 },
    pokeInterval: 1,
  });
  const t1 = new DateTimeSensor({
    taskId: 'wait_for_datetime',
    targetTime: '{{ data_interval_end }}',
    pokeInterval: 1,
    mode: 'reschedule',
  });
  const t2 = new FileSensor({
    taskId: 'wait_for_file',
    filepath: '/tmp/updraft_example_sensor_{{ ds_nodash }}',
    pokeInterval: 1,
    timeout: 3,
    softFail: true,
  });
  const t3 = new FunctionSensor({ taskId: 'success_sensor', poke: () => true, pokeInterval: 1 });
  const t4 = new FunctionSensor({
    taskId: 'failure_timeout_sensor',
    poke: () => false,
    pokeInterval: 1,
    timeout: 3,
    softFail: true,
  });
  const t5 = waitForASecond();
  const touch = new BashOperator({
    taskId: 'touch_file',
    bashCommand: 'touch /tmp/updraft_example_sensor_{{ ds_nodash }}',
  });
  const done = new BashOperator({ taskId: 'all_done', bashCommand: 'echo done', triggerRule: 'all_done' });
  touch.then(t2);
  [t0, t1, t2, t3, t4, t5.operator].forEach((t) => t.then(done));
});
