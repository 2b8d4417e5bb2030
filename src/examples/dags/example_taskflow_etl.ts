/** The TaskFlow tutorial: extract → transform → load, values passed through XCom by plain function calls. */
import { dag, task } from 'updraft';

const extract = task(async function extract() {
  const dataString = '{"1001": 301.27, "1002": 433.21, "1003": 502.22}';
  return JSON.parse(dataString) as Record<string, number>;
});

const transform = task(
  { multipleOutputs: true },
  async function transform(orderData: Record<string, number>) {
    const totalOrderValue = Object.values(orderData).reduce((a, b) => a + b, 0);
    return { total_order_value: Math.round(totalOrderValue * 100) / 100 };
  },
);

const load = task(async function load(totalOrderValue: number) {
  console.log(`Total order value is: ${totalOrderValue.toFixed(2)}`);
});

export const tutorial = dag(
  {
    dagId: 'example_taskflow_etl',
    schedule: null,
    startDate: '2021-01-01',
    catchup: false,
    tags: ['example'],
    docMd:
      '### TaskFlow API Tutorial\nA simple ETL pipeline: extract, transform and load, with XCom in between.',
  },
  () => {
    const orderData = extract();
    const orderSummary = transform(orderData);
    load(orderSummary.get('total_order_value'));
  },
);
