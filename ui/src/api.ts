// Every call the UI makes to Lantern, typed. Pages never call fetch themselves.

/** An error Lantern answered with (or a network failure), with Lantern's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Params = Record<string, string | number | undefined | null | string[]>;

function url(path: string, params?: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

async function request(input: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(input, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach Lantern: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text();
  let body: unknown = null;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(body) ?? `${res.status} ${res.statusText}`);
  return body;
}

function errorMessage(body: unknown): string | null {
  if (typeof body === "string") return body.trim() || null;
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.error === "string") return b.error;
    if (typeof b.message === "string") return b.message;
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      const e = b.errors[0] as Record<string, unknown>;
      if (typeof e.msg === "string") return e.msg;
    }
  }
  return null;
}

async function get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  return (await request(url(path, params), { signal })) as T;
}

async function send<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return (await request(path, {
    method,
    signal,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  })) as T;
}

/** Prometheus's `{status, data}` envelope, unwrapped. */
async function prom<T>(path: string, params: Params, signal?: AbortSignal): Promise<T> {
  const body = await get<{ status: string; data: T; warnings?: string[] }>(path, params, signal);
  return body.data;
}

// ---- Metrics (Prometheus API) ----

export type Labels = Record<string, string>;
export type SamplePair = [number, string];
export interface MatrixSeries {
  metric: Labels;
  values: SamplePair[];
}
export interface VectorSample {
  metric: Labels;
  value: SamplePair;
}
export type QueryResult =
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "scalar"; result: SamplePair }
  | { resultType: "string"; result: SamplePair };

export interface Exemplar {
  labels: Labels;
  value: string;
  timestamp: number;
}
export interface ExemplarSeries {
  seriesLabels: Labels;
  exemplars: Exemplar[];
}

/** Times are in milliseconds; Prometheus takes seconds. */
const secs = (ms: number) => (ms / 1000).toFixed(3);

export const metrics = {
  instant: (query: string, time: number, signal?: AbortSignal) =>
    prom<QueryResult>("/api/v1/query", { query, time: secs(time) }, signal),
  range: (query: string, start: number, end: number, step: number, signal?: AbortSignal) =>
    prom<QueryResult>("/api/v1/query_range", { query, start: secs(start), end: secs(end), step: secs(step) }, signal),
  exemplars: (query: string, start: number, end: number, signal?: AbortSignal) =>
    prom<ExemplarSeries[]>("/api/v1/query_exemplars", { query, start: secs(start), end: secs(end) }, signal),
  labelValues: (name: string, match: string[] | undefined, start: number, end: number, signal?: AbortSignal) =>
    prom<string[]>(`/api/v1/label/${encodeURIComponent(name)}/values`, {
      "match[]": match,
      start: secs(start),
      end: secs(end),
    }, signal),
  series: (match: string[], start: number, end: number, signal?: AbortSignal) =>
    prom<Labels[]>("/api/v1/series", { "match[]": match, start: secs(start), end: secs(end) }, signal),
  formatQuery: (query: string) => prom<string>("/api/v1/format_query", { query }),
};

// ---- Logs ----

/** A log search hit: fixed keys and every field under its own name. */
export interface LogHit {
  timestamp: string;
  level?: string;
  message: string;
  service?: string;
  trace_id?: string;
  span_id?: string;
  request_id?: string;
  [field: string]: unknown;
}
export interface LogSearchResult {
  total: number;
  hits: LogHit[];
}
export interface LogVolume {
  step_seconds: number;
  buckets: { time: string; counts: Record<string, number> }[];
}
export interface LokiStream {
  stream: Labels;
  values: [string, string][];
}
export type LokiResult =
  | { resultType: "streams"; result: LokiStream[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: VectorSample[] };

const iso = (ms: number) => new Date(ms).toISOString();
const nanos = (ms: number) => `${Math.round(ms)}000000`;

export const logs = {
  search: (query: string, start: number, end: number, limit: number, sort: "asc" | "desc", signal?: AbortSignal) =>
    send<LogSearchResult>(
      "POST",
      "/api/v1/logs/search",
      { query, start: iso(start), end: iso(end), limit, sort: `timestamp:${sort}` },
      signal,
    ),
  volume: (query: string, start: number, end: number, step: number | undefined, signal?: AbortSignal) =>
    get<LogVolume>(
      "/api/v1/logs/volume",
      { query, start: iso(start), end: iso(end), step: step ? `${Math.round(step / 1000)}s` : undefined },
      signal,
    ),
  lokiRange: (query: string, start: number, end: number, limit: number, step: number | undefined, signal?: AbortSignal) =>
    prom<LokiResult>(
      "/loki/api/v1/query_range",
      {
        query,
        start: nanos(start),
        end: nanos(end),
        limit,
        direction: "backward",
        step: step ? `${Math.max(1, Math.round(step / 1000))}s` : undefined,
      },
      signal,
    ),
  lokiLabels: (start: number, end: number, signal?: AbortSignal) =>
    prom<string[]>("/loki/api/v1/labels", { start: nanos(start), end: nanos(end) }, signal),
  lokiLabelValues: (name: string, start: number, end: number, signal?: AbortSignal) =>
    prom<string[]>(`/loki/api/v1/label/${encodeURIComponent(name)}/values`, { start: nanos(start), end: nanos(end) }, signal),
  tailUrl: (query: string) => {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${window.location.host}${url("/loki/api/v1/tail", { query, start: nanos(Date.now() - 60_000) })}`;
  },
};

// ---- Traces (Jaeger API) ----

export interface JaegerTag {
  key: string;
  type: string;
  value: string | number | boolean;
}
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number; // µs
  duration: number; // µs
  tags: JaegerTag[];
  logs: { timestamp: number; fields: JaegerTag[] }[];
  processID: string;
  warnings: string[] | null;
}
export interface JaegerProcess {
  serviceName: string;
  tags: JaegerTag[];
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, JaegerProcess>;
  warnings: string[] | null;
}
export interface CriticalPath {
  sections: { spanID: string; start_ns: number; end_ns: number }[];
  spans: { spanID: string; self_ns: number; critical_ns: number }[];
}
export interface TraceQuery {
  service?: string;
  operation?: string;
  tags?: string;
  minDuration?: string;
  maxDuration?: string;
  limit?: number;
}
interface Jaeger<T> {
  data: T;
  errors: { code: number; msg: string }[] | null;
}

async function jaeger<T>(path: string, params: Params, signal?: AbortSignal): Promise<T> {
  const body = await get<Jaeger<T>>(path, params, signal);
  if (body.errors && body.errors.length > 0) throw new ApiError(400, body.errors[0].msg);
  return body.data;
}

export const traces = {
  services: (signal?: AbortSignal) => jaeger<string[] | null>("/api/services", {}, signal),
  operations: (service: string, signal?: AbortSignal) =>
    jaeger<string[] | null>(`/api/services/${encodeURIComponent(service)}/operations`, {}, signal),
  search: (q: TraceQuery, start: number, end: number, signal?: AbortSignal) =>
    jaeger<JaegerTrace[]>(
      "/api/traces",
      { ...q, start: Math.floor(start * 1000), end: Math.ceil(end * 1000), limit: q.limit ?? 100 },
      signal,
    ),
  get: (id: string, signal?: AbortSignal) => jaeger<JaegerTrace[]>(`/api/traces/${encodeURIComponent(id)}`, {}, signal),
  criticalPath: (id: string, signal?: AbortSignal) =>
    jaeger<CriticalPath>(`/api/v1/traces/${encodeURIComponent(id)}/critical-path`, {}, signal),
};

// ---- Rules, alerts, SLOs ----

export interface Alert {
  labels: Labels;
  annotations: Labels;
  state: "pending" | "firing" | "inactive";
  activeAt?: string;
  value?: string;
}
export interface Rule {
  name: string;
  query: string;
  type: "alerting" | "recording";
  health: "ok" | "err" | "unknown";
  lastError?: string;
  lastEvaluation?: string;
  evaluationTime?: number;
  state?: "inactive" | "pending" | "firing";
  duration?: number;
  labels?: Labels;
  annotations?: Labels;
  alerts?: Alert[];
  lang?: string;
}
export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  lastEvaluation?: string;
  evaluationTime?: number;
}
export interface Slo {
  name: string;
  description: string;
  file: string;
  target: number;
  window: string;
  status: string;
  sli: number | null;
  total: number | null;
  good: number | null;
  failed: number | null;
  budget_total: number | null;
  budget_used: number | null;
  budget_remaining: number | null;
  budget_remaining_percent: number | null;
  burn_rates: Record<string, number | null>;
  time_to_exhaustion_seconds: number | null;
  warnings: string[];
  alerts: Alert[];
}

export const alerting = {
  rules: (signal?: AbortSignal) => prom<{ groups: RuleGroup[] }>("/api/v1/rules", {}, signal),
  alerts: (signal?: AbortSignal) => prom<{ alerts: Alert[] }>("/api/v1/alerts", {}, signal),
  slos: (signal?: AbortSignal) => prom<{ slos: Slo[] }>("/api/v1/slos", {}, signal),
  /** The burn-down: the budget left (percent) from the window's start to now. */
  budget: (name: string, points: number, signal?: AbortSignal) =>
    prom<{ window_start: number; points: [number, number | null][] }>(
      `/api/v1/slos/${encodeURIComponent(name)}/budget`,
      { points },
      signal,
    ),
};

// ---- Dashboards ----

export interface DashboardSummary {
  uid: string;
  title: string;
  tags: string[];
  source: "saved" | "provisioned" | "generated";
  file?: string;
  version: number;
}
/** A dashboard in Grafana's JSON model; the UI reads the parts in `dashboards/model.ts`. */
export type DashboardJson = Record<string, unknown>;

export const dashboards = {
  list: (signal?: AbortSignal) => get<{ dashboards: DashboardSummary[] }>("/api/v1/dashboards", {}, signal),
  get: (uid: string, signal?: AbortSignal) =>
    get<{ dashboard: DashboardJson; meta: DashboardSummary }>(`/api/v1/dashboards/${encodeURIComponent(uid)}`, { meta: "true" }, signal),
  create: (dashboard: DashboardJson) => send<{ uid: string; version: number }>("POST", "/api/v1/dashboards", dashboard),
  save: (uid: string, dashboard: DashboardJson) =>
    send<{ uid: string; version: number }>("PUT", `/api/v1/dashboards/${encodeURIComponent(uid)}`, dashboard),
  remove: (uid: string) => send<unknown>("DELETE", `/api/v1/dashboards/${encodeURIComponent(uid)}`, undefined),
  exportUrl: (uid: string) => `/api/v1/dashboards/${encodeURIComponent(uid)}`,
};

// ---- Investigation and correlation ----

export interface InvestigationPattern {
  service: string;
  template: string;
  count: number;
  baseline: number;
}
export interface Investigation {
  verdict: string;
  incident: boolean;
  suspect: { service: string; operation: string; confidence: number } | null;
  symptom: string | null;
  window: { start: string; end: string };
  baseline?: { start: string; end: string };
  evidence: {
    symptom?: { what: string; query: string; started: string; before: number; after: number; labels: Labels; link: string };
    logs?: {
      error_lines: number;
      baseline_error_lines: number;
      patterns: InvestigationPattern[];
      distinct_fields: { field: string; value: string; count: number; baseline: number }[];
    };
    requests?: { request_id: string; trace_id: string }[];
    traces?: {
      kind: "errors" | "latency";
      failing_traces?: number;
      baseline_failing_traces?: number;
      origins?: { service: string; operation: string; traces: number; share: number; baseline_share: number; failures: { what: string; count: number }[] }[];
      slowest?: { service: string; operation: string; self_time_before_ns: number; self_time_after_ns: number; share_of_growth: number } | null;
      compare?: { p95_ns: number | null; baseline_p95_ns: number | null };
      examples: string[];
    };
    saturation?: { service: string | null; series: { metric: string; before: number; after: number }[] };
    largest_change?: { what: string; query: string; started: string; before: number; after: number } | null;
  };
}

export const investigation = {
  run: (start: number, end: number, opts: { alert?: string; query?: string; slo?: string }, signal?: AbortSignal) =>
    prom<Investigation>("/api/v1/investigate", { start: secs(start), end: secs(end), ...opts }, signal),
};

export const server = {
  buildinfo: (signal?: AbortSignal) => prom<{ version: string }>("/api/v1/status/buildinfo", {}, signal),
};
