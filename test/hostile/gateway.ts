// The gateway of the hostile suite: a process of its own (so its memory is its own), in front of a stand-in, with its
// metrics, its log and, through its inspector, forced garbage collections before a memory reading.
import { connectInspector, inspectorUrlOf, type Inspector } from '../../bench/lib/inspector.js';
import { parseMetrics, spawnGateway, type GatewayProcess } from '../operability/helpers.js';

export interface Memory {
  heapUsedBytes: number;
  rssBytes: number;
}

export interface HostileGateway {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  metricsText(): Promise<string>;
  /** The sum of a metric's samples whose labels include `labels` (0 when there is none). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Heap in use and resident memory as /metrics reports them, read right after a full garbage collection. */
  memory(): Promise<Memory>;
  /** How much the process has written so far, to read what it writes from there on (see writtenSince). */
  mark(): { stdout: number; stderr: number };
  writtenSince(mark: { stdout: number; stderr: number }): { stdout: string; stderr: string };
  close(): Promise<void>;
}

export async function startHostileGateway(gitlabUrl: string, env: Record<string, string>): Promise<HostileGateway> {
  // The inspector serves the forced collections only: a reading without one would count garbage as held memory.
  const gateway: GatewayProcess = await spawnGateway({ NODE_OPTIONS: '--inspect=127.0.0.1:0', GITLAB_URL: gitlabUrl, ...env });
  let inspector: Inspector;
  try {
    inspector = await connectInspector(inspectorUrlOf(gateway.stderr()));
  } catch (error) {
    gateway.kill();
    throw error;
  }
  const metricsText = async () => (await fetch(`${gateway.base}/metrics`)).text();
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    parseMetrics(await metricsText())
      .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
      .reduce((sum, s) => sum + s.value, 0);
  return {
    url: gateway.url,
    metricsText,
    metric,
    async memory() {
      await inspector.call('HeapProfiler.collectGarbage');
      const samples = parseMetrics(await metricsText());
      const value = (name: string) => samples.find((s) => s.name === name)?.value ?? NaN;
      return { heapUsedBytes: value('gateway_nodejs_heap_size_used_bytes'), rssBytes: value('gateway_process_resident_memory_bytes') };
    },
    mark: () => ({ stdout: gateway.stdout().length, stderr: gateway.stderr().length }),
    writtenSince: (mark) => ({ stdout: gateway.stdout().slice(mark.stdout), stderr: gateway.stderr().slice(mark.stderr) }),
    async close() {
      inspector.close();
      gateway.child.kill('SIGTERM');
      const killer = setTimeout(() => gateway.kill(), 15_000);
      await gateway.exited;
      clearTimeout(killer);
    },
  };
}
