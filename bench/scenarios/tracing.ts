// What tracing costs: the overhead scenario's request (one modelRecord, one list call to GitLab) against gateways with
// tracing off, on and sampling nothing, and on and exporting every span over OTLP/HTTP (protobuf) to a collector of
// its own process. Off must cost nothing measurable, a client's traceparent included (it is passed on to GitLab).
import { figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { median, round, verifyTarget, type Target } from '../lib/load.js';
import { startFloor } from '../lib/processes.js';
import { cpuPerRequest, interleavedThroughput, setupOverhead, totalRps, warmUp, WARM_UP_S } from './overhead.js';

/** Tracing off, with a client's traceparent, may cost at most this much more CPU per request than without one. */
export const TRACING_TARGETS = { offWithTraceparentCpuRatio: 1.05 } as const;

/** Longer than the batch span processor's delay (OTEL_BSP_SCHEDULE_DELAY, 5 s by default): its queue is sent by then. */
const EXPORT_DELAY_MS = 6_000;

const CLIENT_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export async function runTracing(options: RunOptions): Promise<ScenarioResult> {
  const S = 'tracing';
  // Six short rounds rather than three long ones, in alternating order: the traceparent figure is the median of the
  // rounds' pairs, half of them with the traceparent first.
  const rounds = options.quick ? 2 : 6;
  const durationS = options.quick ? 3 : 5;
  const sink = await startFloor('otlp-sink.ts');
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.origin, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_SERVICE_NAME: 'bench-gateway' };
  try {
    const setup = await setupOverhead([{}, { env: on }, { env: { ...on, OTEL_TRACES_SAMPLER: 'always_off' } }]);
    try {
      const [offGateway, onGateway, unsampledGateway] = setup.gateways;
      const off = setup.gatewayTarget(offGateway, 'tracing off');
      const offWithParent: Target = { ...off, name: 'tracing off, traceparent', headers: { ...off.headers, traceparent: CLIENT_TRACEPARENT } };
      const unsampled = setup.gatewayTarget(unsampledGateway, 'tracing on, sampling none');
      const exporting = setup.gatewayTarget(onGateway, 'tracing on, exporting');
      for (const target of [offWithParent, unsampled, exporting]) await verifyTarget(target);
      // The traceparent reaches GitLab when tracing is off: the same call, with one more header.
      const { lastSeq } = await setup.standIn.requests(Number.MAX_SAFE_INTEGER);
      await verifyTarget(offWithParent);
      const forwarded = (await setup.standIn.requests(lastSeq)).requests.at(-1) as { traceparent?: string | null } | undefined;
      if (forwarded?.traceparent !== CLIENT_TRACEPARENT) throw new Error('tracing off: the client traceparent did not reach the stand-in');
      options.log(`tracing: record ${setup.recordId}; ${rounds} rounds of ${durationS} s per target, interleaved; spans to ${sink.origin} (http/protobuf)`);
      const watch = { off: offGateway.pid, on: onGateway.pid, unsampled: unsampledGateway.pid, collector: sink.pid, 'stand-in': setup.standIn.pid };
      const targets = [off, offWithParent, unsampled, exporting];
      await warmUp(targets, options.quick ? 1 : WARM_UP_S);
      // The bytes exported per request count the measured rounds' spans only: those of the warm-up are sent before the
      // first reading (the batch processor's delay is 5 s), the last round's before the second.
      const stats = async () => {
        await new Promise((resolve) => setTimeout(resolve, EXPORT_DELAY_MS));
        return (await (await fetch(`${sink.origin}/stats`)).json()) as { exports: number; bytes: number };
      };
      const statsBefore = await stats();
      const [offRuns, parentRuns, unsampledRuns, exportingRuns] = await interleavedThroughput(targets, rounds, durationS, options.log, watch, 0, true);
      const statsAfter = await stats();
      const exportingRequests = exportingRuns.reduce((a, r) => a + r.requests, 0);
      if (statsAfter.exports === statsBefore.exports) throw new Error('tracing on: nothing reached the collector');

      const cpuOff = cpuPerRequest(offRuns, 'off');
      const cpuParent = cpuPerRequest(parentRuns, 'off');
      const cpuUnsampled = cpuPerRequest(unsampledRuns, 'unsampled');
      const cpuExporting = cpuPerRequest(exportingRuns, 'on');
      const collectorCpu = cpuPerRequest(exportingRuns, 'collector');
      // Round by round (each pair back to back), the median: one slow moment of the machine does not decide it.
      const parentByRound = parentRuns.map((run, i) => cpuPerRequest([run], 'off') / cpuPerRequest([offRuns[i]], 'off'));
      const parentRatio = median(parentByRound);
      const figures = [
        figure(S, 'tracing off: CPU per request', round(cpuOff, 0), 'us', '', null, `${round(totalRps(offRuns), 0)} req/s`),
        figure(S, 'off, with a client traceparent / off: CPU per request', round(parentRatio, 3), 'x', `<= ${TRACING_TARGETS.offWithTraceparentCpuRatio}`, parentRatio <= TRACING_TARGETS.offWithTraceparentCpuRatio, `${round(cpuParent, 0)} us, ${round(cpuOff, 0)} off; median of the rounds' pairs (${parentByRound.map((r) => r.toFixed(3)).join(', ')}); it is passed on to GitLab`),
        figure(S, 'on, sampling none / off: CPU per request', round(cpuUnsampled / cpuOff, 3), 'x', '', null, `${round(cpuUnsampled, 0)} us, ${round(totalRps(unsampledRuns), 0)} req/s`),
        figure(S, 'on, exporting every span / off: CPU per request', round(cpuExporting / cpuOff, 3), 'x', '', null, `${round(cpuExporting, 0)} us in the gateway, ${round(collectorCpu, 0)} us in the collector`),
        figure(S, 'on, exporting / off: throughput', round(totalRps(exportingRuns) / totalRps(offRuns), 3), 'x', '', null, `${round(totalRps(exportingRuns), 0)} req/s`),
        figure(S, 'OTLP bytes exported per request (protobuf)', round((statsAfter.bytes - statsBefore.bytes) / Math.max(1, exportingRequests), 0), 'B', '', null, `${statsAfter.exports - statsBefore.exports} exports; 3 spans per request`),
      ];
      return {
        scenario: S,
        figures,
        details: { recordId: setup.recordId, collector: { before: statsBefore, after: statsAfter }, throughput: { off: offRuns, offWithTraceparent: parentRuns, unsampled: unsampledRuns, exporting: exportingRuns } },
      };
    } finally {
      await setup.stop();
    }
  } finally {
    await sink.stop();
  }
}
