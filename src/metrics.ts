// Prometheus metrics, served on /metrics. One registry per gateway so several gateways in one process stay apart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from './metric-series.js';

export class Metrics {
  readonly registry = new Registry();
  // Counted on every operation and call to GitLab: series found by their label values (metric-series.ts).
  readonly operations = new SeriesCounter({ name: 'gateway_graphql_operations_total', help: 'GraphQL operations by name, type and outcome', labelNames: ['operation', 'type', 'outcome'], registers: [this.registry] });
  readonly operationDuration = new SeriesHistogram({ name: 'gateway_graphql_operation_duration_seconds', help: 'GraphQL operation duration', labelNames: ['operation', 'type'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly upstreamRequests = new SeriesCounter({ name: 'gateway_upstream_requests_total', help: 'Requests to GitLab by route, method and status (0: no answer)', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly upstreamDuration = new SeriesHistogram({ name: 'gateway_upstream_request_duration_seconds', help: 'Duration of requests to GitLab', labelNames: ['route', 'method'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers: [this.registry] });
  readonly batchSize = new SeriesHistogram({ name: 'gateway_dataloader_batch_size', help: 'Record look-ups per DataLoader batch', labelNames: ['model'], buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers: [this.registry] });
  readonly subscriptions = new Gauge({ name: 'gateway_live_subscriptions', help: 'Active live subscriptions (checksumStateChanged and checksumStateChangeBatches)', registers: [this.registry] });
  readonly summarySubscriptions = new Gauge({ name: 'gateway_summary_subscriptions', help: 'Active verificationSummaryChanged subscriptions', registers: [this.registry] });
  readonly summaryComputations = new Counter({ name: 'gateway_summary_computations_total', help: 'Counts of a model computed (each shared by every query and subscriber that waited for it), by model and outcome', labelNames: ['model', 'outcome'], registers: [this.registry] });
  readonly redisConnected = new Gauge({ name: 'gateway_redis_connected', help: 'With REDIS_URL: 1 while both connections to Redis are ready, else 0', registers: [this.registry] });
  readonly liveDegraded = new Gauge({ name: 'gateway_live_degraded', help: 'With REDIS_URL: 1 while Redis cannot be used and this replica polls GitLab for itself, else 0', registers: [this.registry] });
  readonly pollsLed = new Gauge({ name: 'gateway_live_polls_led', help: 'Models this replica polls for the whole cluster (it holds their lease), by kind of poll', labelNames: ['kind'], registers: [this.registry] });
  readonly sockets = new Gauge({ name: 'gateway_websocket_connections', help: 'Open graphql-ws connections', registers: [this.registry] });
  readonly slowReaderWaits = new Counter({ name: 'gateway_websocket_slow_reader_waits_total', help: 'Times a graphql-ws message waited for its client to read what was already queued (1 MB)', registers: [this.registry] });
  readonly overflowCloses = new Counter({ name: 'gateway_websocket_overflow_closes_total', help: 'graphql-ws connections cut off because more than WS_MAX_BUFFERED_BYTES was queued for them', registers: [this.registry] });
  readonly peakBufferedBytes = new Histogram({ name: 'gateway_websocket_peak_buffered_bytes', help: 'Most bytes queued at once for a graphql-ws connection, observed when it closes', buckets: [65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864], registers: [this.registry] });
  readonly coalescedEvents = new Counter({ name: 'gateway_live_coalesced_events_total', help: 'Events a subscriber that read more slowly than changes arrived no longer got separately: merged into its later ones', registers: [this.registry] });
  readonly pollCycles = new Counter({ name: 'gateway_live_poll_cycles_total', help: 'Poll cycles of the shared watcher by model and outcome', labelNames: ['model', 'outcome'], registers: [this.registry] });
  readonly liveUpstreamWaits = new Counter({ name: 'gateway_live_upstream_waits_total', help: 'Calls of the live layer to GitLab (polls, first reads, token re-checks) that waited for their turn under LIVE_MAX_UPSTREAM_CALLS_PER_SECOND', registers: [this.registry] });
  readonly parseCacheLookups = new Counter({ name: 'gateway_parse_cache_lookups_total', help: 'Operations whose document was looked up in the parse cache, by outcome: hit, miss (parsed, then kept within PARSE_CACHE_MAX_BYTES), too_long (longer than PARSE_CACHE_MAX_QUERY_LENGTH: parsed, not kept)', labelNames: ['outcome'], registers: [this.registry] });
  readonly compiledQueries = new Counter({ name: 'gateway_graphql_compiled_queries_total', help: 'Queries compiled with graphql-jit: once per operation of a document the parse cache keeps, after QUERY_COMPILE_AFTER runs of it on graphql-js', registers: [this.registry] });
  readonly parseCacheBytes = new Gauge({ name: 'gateway_parse_cache_bytes', help: 'Estimated heap held by the parse cache (parsed documents and parse failures), at most PARSE_CACHE_MAX_BYTES', registers: [this.registry] });
  readonly droppedConnections = new Counter({ name: 'gateway_http_dropped_connections_total', help: 'Connections closed as soon as accepted because MAX_CONNECTIONS were open', registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'gateway_rate_limited_total', help: 'Operations, calls to GitLab and subscriptions refused with RATE_LIMITED, by the limit that refused them', labelNames: ['limit'], registers: [this.registry] });
  readonly rateLimitsDegraded = new Gauge({ name: 'gateway_rate_limits_degraded', help: 'With REDIS_URL: 1 while Redis cannot be used and this replica counts per-client limits in memory, on its own; else 0', registers: [this.registry] });
  readonly pollDuration = new Histogram({ name: 'gateway_live_poll_duration_seconds', help: 'Duration of a poll cycle', labelNames: ['model'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_' });
  }
}
