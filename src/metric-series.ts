// Counters and histograms of the metrics counted on every operation and call to GitLab. prom-client's own hash a label
// object and check its names on every inc() and observe() (about a microsecond per operation over the four such
// metrics); these find a series by its label values in nested maps, and give prom-client's registry the same values,
// in the same shape, when /metrics is read, so the exposition is prom-client's own.
import type { Registry } from 'prom-client';

interface MetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registers: Registry[];
}

/** What prom-client's registry reads of a metric (see Registry.getMetricsAsString). */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** Series by their label values, in the order of the label names: one level of maps per label. */
class SeriesTree<S> {
  private readonly root = new Map<string, unknown>();
  readonly all: Array<{ labels: Record<string, string>; series: S }> = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly create: () => S,
  ) {}

  get(values: readonly string[]): S {
    let level = this.root;
    const last = this.labelNames.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) level.set(values[i], (next = new Map()));
      level = next;
    }
    let series = level.get(values[last]) as S | undefined;
    if (series === undefined) {
      series = this.create();
      level.set(values[last], series);
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      this.all.push({ labels, series });
    }
    return series;
  }

  clear(): void {
    this.root.clear();
    this.all.length = 0;
  }
}

abstract class SeriesMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  protected readonly tree: SeriesTree<S>;

  constructor(options: MetricOptions, create: () => S) {
    this.name = options.name;
    this.help = options.help;
    this.tree = new SeriesTree(options.labelNames, create);
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  protected abstract values(): ExposedValue[];

  /** As prom-client's metrics give the registry their values for the text exposition. */
  async getForPromString() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  /** As prom-client's get(): each value's labels whole. */
  async get() {
    const values = this.values().map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.tree.clear();
  }
}

export class SeriesCounter extends SeriesMetric<{ value: number }> {
  readonly type = 'counter';

  constructor(options: MetricOptions) {
    super(options, () => ({ value: 0 }));
  }

  /** Adds 1 to the series of these label values (in the order of the label names). */
  inc(...labelValues: string[]): void {
    this.tree.get(labelValues).value += 1;
  }

  protected values(): ExposedValue[] {
    return this.tree.all.map(({ labels, series }) => ({ labels, value: series.value }));
  }
}

interface HistogramSeries {
  /** Observations per bucket, not cumulated; the last is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';

  constructor(
    options: MetricOptions & { buckets: readonly number[] },
    private readonly buckets = [...options.buckets].sort((a, b) => a - b),
  ) {
    super(options, () => ({ counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 }));
  }

  /** Observes a value in the series of these label values (in the order of the label names). */
  observe(value: number, ...labelValues: string[]): void {
    // A NaN would poison the sum for good (prom-client throws instead, inside the operation it measures).
    if (!Number.isFinite(value)) return;
    const series = this.tree.get(labelValues);
    let bucket = 0;
    while (bucket < this.buckets.length && value > this.buckets[bucket]) bucket++;
    series.counts[bucket]++;
    series.sum += value;
    series.count++;
  }

  protected values(): ExposedValue[] {
    const name = this.name;
    const values: ExposedValue[] = [];
    for (const { labels, series } of this.tree.all) {
      let cumulated = 0;
      this.buckets.forEach((bound, i) => {
        cumulated += series.counts[i];
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulated, metricName: `${name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: series.count, metricName: `${name}_bucket` });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: series.count, metricName: `${name}_count` });
    }
    return values;
  }
}
