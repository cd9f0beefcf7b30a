// Grafana's dashboard JSON as the UI reads it: panels (rows as `row` panels), their
// queries and which of Lantern's signals a datasource means, template variables, and
// the interpolation of `$var`, `${var}`, `[[var]]` and `$__rate_interval` into queries.

export type Signal = "metrics" | "logs" | "traces" | "other";

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  hide?: boolean;
  datasource?: unknown;
  instant?: boolean;
  format?: string;
  // Jaeger/Tempo queries
  query?: string;
  queryType?: string;
  service?: string;
  operation?: string;
  tags?: string;
  limit?: number;
  minDuration?: string;
  maxDuration?: string;
  [k: string]: unknown;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos?: GridPos;
  datasource?: unknown;
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
  fieldConfig?: { defaults?: FieldDefaults; overrides?: unknown[] };
  options?: Record<string, unknown>;
  // legacy graph panels
  yaxes?: { format?: string }[];
  stack?: boolean;
  bars?: boolean;
  lines?: boolean;
  content?: string;
  [k: string]: unknown;
}

export interface FieldDefaults {
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  thresholds?: { mode?: string; steps?: { color: string; value: number | null }[] };
  custom?: Record<string, unknown>;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  tags?: string[];
  description?: string;
  panels?: Panel[];
  templating?: { list?: VariableModel[] };
  time?: { from: string; to: string };
  refresh?: string | boolean;
  __inputs?: { name: string; pluginId?: string }[];
  version?: number;
  [k: string]: unknown;
}

export interface VariableModel {
  name: string;
  label?: string;
  type: string;
  query?: string | { query?: string; qryType?: number };
  definition?: string;
  datasource?: unknown;
  current?: { value?: string | string[]; text?: string | string[] };
  options?: { value: string; text?: string; selected?: boolean }[];
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  regex?: string;
  hide?: number;
  [k: string]: unknown;
}

/** Panel types Lantern draws. */
export const DRAWN = new Set(["timeseries", "graph", "stat", "singlestat", "gauge", "bargauge", "table", "heatmap", "logs", "traces", "text", "row"]);

function signalOfType(t: string): Signal {
  const s = t.toLowerCase();
  if (s.includes("loki") || s.includes("log")) return "logs";
  if (s.includes("jaeger") || s.includes("tempo") || s.includes("zipkin") || s.includes("trace")) return "traces";
  if (s.startsWith("-- ") || s === "grafana" || s === "__expr__" || s === "datasource" || s.includes("expression")) return "other";
  return "metrics";
}

function signalOfName(name: string, dash: Dashboard): Signal {
  if (name.startsWith("$")) {
    const v = name.replace(/^\$\{?/, "").replace(/\}$/, "");
    const input = dash.__inputs?.find((i) => i.name === v);
    if (input) return signalOfType(input.pluginId ?? "");
    const variable = dash.templating?.list?.find((x) => x.name === v && x.type === "datasource");
    if (variable) return signalOfType(typeof variable.query === "string" ? variable.query : "");
    return "metrics";
  }
  if (name === "-- Mixed --") return "other";
  return signalOfType(name);
}

/** What a datasource reference points at: `null`, a name, `${DS_X}`, `$var` or `{type, uid}`. */
export function signalOf(ds: unknown, dash: Dashboard): Signal {
  if (ds === null || ds === undefined) return "metrics";
  if (typeof ds === "string") return signalOfName(ds, dash);
  if (typeof ds === "object") {
    const o = ds as { type?: string; uid?: string };
    if (o.type && !o.type.startsWith("$")) return signalOfType(o.type);
    if (o.uid) return signalOfName(o.uid, dash);
  }
  return "metrics";
}

export function isMixed(ds: unknown): boolean {
  if (typeof ds === "string") return ds === "-- Mixed --";
  if (ds && typeof ds === "object") {
    const o = ds as { type?: string; uid?: string };
    return o.uid === "-- Mixed --" || o.type === "mixed";
  }
  return false;
}

/** The signal of one of a panel's queries. */
export function targetSignal(panel: Panel, target: Target, dash: Dashboard): Signal {
  const ds = isMixed(panel.datasource) || panel.datasource === undefined ? (target.datasource ?? panel.datasource) : panel.datasource;
  return signalOf(ds, dash);
}

/** A panel's unit: `fieldConfig.defaults.unit`, or a legacy graph's left axis format. */
export function unitOf(panel: Panel): string | undefined {
  return panel.fieldConfig?.defaults?.unit ?? panel.yaxes?.[0]?.format ?? (panel.format as string | undefined);
}

export interface Section {
  row: Panel | null;
  panels: Panel[];
}

/** Top-level panels split at row panels, each sorted by position; a collapsed row keeps its own panels. */
export function sections(dash: Dashboard): Section[] {
  const sorted = [...(dash.panels ?? [])].sort((a, b) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0));
  const out: Section[] = [{ row: null, panels: [] }];
  for (const p of sorted) {
    if (p.type === "row") out.push({ row: p, panels: [...(p.panels ?? [])] });
    else out[out.length - 1].panels.push(p);
  }
  return out.filter((s) => s.row !== null || s.panels.length > 0);
}

/** Values of the variables as queries see them. */
export type VarValues = Record<string, string[]>;

export const ALL = "$__all";

function formatValues(values: string[], v: VariableModel | undefined, fmt: string | undefined): string {
  if (values.length === 0) return "";
  if (values.length === 1 && values[0] === ALL) {
    if (v?.allValue) return v.allValue;
    values = (v?.options ?? []).map((o) => o.value).filter((x) => x !== ALL);
    if (values.length === 0) return ".*";
  }
  if (fmt === "csv") return values.join(",");
  if (fmt === "pipe") return values.join("|");
  if (fmt === "raw" && values.length === 1) return values[0];
  if (values.length === 1) return fmt === "regex" ? escapeRegex(values[0]) : values[0];
  const parts = fmt === "regex" || fmt === undefined ? values.map(escapeRegex) : values;
  return `(${parts.join("|")})`;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/** Grafana's built-in variables for a range and step (ms). */
export function builtins(start: number, end: number, step: number): Record<string, string> {
  const range = Math.max(1, Math.round((end - start) / 1000));
  const stepS = Math.max(1, Math.round(step / 1000));
  const scrape = 15;
  const rate = Math.max(stepS + scrape, 4 * scrape);
  return {
    __interval: `${stepS}s`,
    __interval_ms: String(stepS * 1000),
    __rate_interval: `${rate}s`,
    __range: `${range}s`,
    __range_s: String(range),
    __range_ms: String(range * 1000),
  };
}

/** Replaces `$var`, `${var}`, `${var:fmt}` and `[[var]]` in a query. */
export function interpolate(text: string, values: VarValues, vars: VariableModel[], builtin: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)/g, (m, a: string, fmt: string, b: string, c: string) => {
    const name = a ?? b ?? c;
    if (name in builtin) return builtin[name];
    const vals = values[name];
    if (!vals) return m;
    return formatValues(vals, vars.find((v) => v.name === name), fmt);
  });
}

/** The text of a variable's query (Grafana stores it as a string or `{query}`). */
export function variableQuery(v: VariableModel): string {
  if (typeof v.query === "string") return v.query;
  if (v.query && typeof v.query === "object") return v.query.query ?? "";
  return v.definition ?? "";
}

/** The variable's current value, as a list. */
export function currentValues(v: VariableModel): string[] {
  const c = v.current?.value;
  if (Array.isArray(c)) return c;
  if (typeof c === "string" && c !== "") return [c];
  return [];
}
