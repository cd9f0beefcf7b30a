// The service map's numbers: PromQL over the service-graph and span-metrics series the
// trace store writes (Tempo's names), and the graph they make.
import type { QueryResult } from "./api";
import { sampleValue } from "./metricsData";

const SERVER = 'span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"';

/** The instant queries behind the map, over a window `w` ("1h"). */
export function mapQueries(w: string) {
  return {
    edgeRate: `sum by (client, server) (rate(traces_service_graph_request_total[${w}]))`,
    edgeErrors: `sum by (client, server) (rate(traces_service_graph_request_failed_total[${w}]))`,
    edgeP95: `histogram_quantile(0.95, sum by (client, server, le) (rate(traces_service_graph_request_server_seconds_bucket[${w}])))`,
    nodeRate: `sum by (service) (rate(traces_spanmetrics_calls_total{${SERVER}}[${w}]))`,
    nodeErrors: `sum by (service) (rate(traces_spanmetrics_calls_total{${SERVER}, status_code="STATUS_CODE_ERROR"}[${w}]))`,
    nodeP95: `histogram_quantile(0.95, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{${SERVER}}[${w}])))`,
  };
}

/** A service's golden signals over time, for the side panel. */
export function serviceQueries(service: string, w = "5m") {
  const sel = `service="${service}", ${SERVER}`;
  return {
    rate: `sum(rate(traces_spanmetrics_calls_total{${sel}}[${w}]))`,
    errors: `sum(rate(traces_spanmetrics_calls_total{${sel}, status_code="STATUS_CODE_ERROR"}[${w}])) / sum(rate(traces_spanmetrics_calls_total{${sel}}[${w}]))`,
    p95: `histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket{${sel}}[${w}])))`,
  };
}

export interface Stats {
  rate: number;
  errorRatio: number | null;
  p95: number | null;
}
export interface ServiceGraph {
  nodes: Map<string, Stats>;
  edges: { client: string; server: string; stats: Stats }[];
}

function byKey(r: QueryResult | undefined, key: (m: Record<string, string>) => string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  if (r?.resultType === "vector") for (const s of r.result) out.set(key(s.metric), sampleValue(s.value[1]));
  return out;
}

/** Joins the six answers into nodes and edges; a service seen only as a client or server is a node too. */
export function buildGraph(r: Record<keyof ReturnType<typeof mapQueries>, QueryResult | undefined>): ServiceGraph {
  const edgeKey = (m: Record<string, string>) => `${m.client ?? ""}\u0000${m.server ?? ""}`;
  const eRate = byKey(r.edgeRate, edgeKey);
  const eErr = byKey(r.edgeErrors, edgeKey);
  const eP95 = byKey(r.edgeP95, edgeKey);
  const svc = (m: Record<string, string>) => m.service ?? "";
  const nRate = byKey(r.nodeRate, svc);
  const nErr = byKey(r.nodeErrors, svc);
  const nP95 = byKey(r.nodeP95, svc);
  const ratio = (e: number | null | undefined, total: number) => (total > 0 ? (e ?? 0) / total : null);
  const nodes = new Map<string, Stats>();
  for (const [name, rate] of nRate) {
    if (!name) continue;
    nodes.set(name, { rate: rate ?? 0, errorRatio: ratio(nErr.get(name), rate ?? 0), p95: nP95.get(name) ?? null });
  }
  const edges: ServiceGraph["edges"] = [];
  for (const [k, rate] of eRate) {
    const [client, server] = k.split("\u0000");
    if (!client || !server) continue;
    for (const n of [client, server]) if (!nodes.has(n)) nodes.set(n, { rate: 0, errorRatio: null, p95: null });
    edges.push({ client, server, stats: { rate: rate ?? 0, errorRatio: ratio(eErr.get(k), rate ?? 0), p95: eP95.get(k) ?? null } });
  }
  return { nodes, edges };
}

/** Green to red by error ratio (5% and above is red). */
export function healthColor(errorRatio: number | null): string {
  if (errorRatio === null) return "#adb5bd";
  if (errorRatio >= 0.05) return "#e03131";
  if (errorRatio >= 0.01) return "#f08c00";
  return "#2f9e44";
}
