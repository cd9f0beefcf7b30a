// Log queries the Logs page builds: filters added by a click, in the seed's search syntax
// or in LogQL, and LogQL answers turned into the same rows as search hits.
import type { LogHit, LokiStream } from "./api";

export type LogMode = "search" | "logql";

/** Stream labels of Lantern's log store (the rest are fields of the line). */
const STREAM_LABELS = new Set(["service", "level", "job", "instance", "host", "namespace", "container"]);

function quote(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The search syntax's filter for one field value (`-` excludes it). */
export function searchFilter(field: string, value: string, exclude: boolean): string {
  return `${exclude ? "-" : ""}${field}:${quote(value)}`;
}

/** Adds a filter to a query in the seed's search syntax (ANDed). */
export function addSearchFilter(query: string, field: string, value: string, exclude = false): string {
  const f = searchFilter(field, value, exclude);
  const q = query.trim();
  if (q === "" || q === "*") return f;
  return /\bOR\b/.test(q) ? `(${q}) AND ${f}` : `${q} AND ${f}`;
}

/** Adds a filter to a LogQL log query: stream labels into the selector, other fields as a label filter. */
export function addLogqlFilter(query: string, field: string, value: string, exclude = false): string {
  const q = query.trim() || '{service=~".+"}';
  const op = exclude ? "!=" : "=";
  if (STREAM_LABELS.has(field)) {
    const close = q.indexOf("}");
    if (close > 0) {
      const inner = q.slice(q.indexOf("{") + 1, close).trim();
      const sep = inner === "" ? "" : ", ";
      return `${q.slice(0, close)}${sep}${field}${op}${quote(value)}${q.slice(close)}`;
    }
  }
  const needsJson = !/\|\s*json\b/.test(q);
  const name = field.replace(/[^a-zA-Z0-9_]/g, "_");
  return `${q}${needsJson ? " | json" : ""} | ${name}${op}${quote(value)}`;
}

/** Whether a LogQL query is a log query (lines) rather than a metric query (numbers). */
export function isLogQuery(q: string): boolean {
  return q.trim().startsWith("{");
}

/** The default query of each mode. */
export function defaultQuery(mode: LogMode): string {
  return mode === "logql" ? '{service=~".+"}' : "";
}

/** Rows from Loki streams, newest first: a JSON line gives its fields, labels join them. */
export function streamsToHits(streams: LokiStream[]): LogHit[] {
  const rows: { ns: bigint; hit: LogHit }[] = [];
  for (const s of streams) {
    for (const [ts, line] of s.values) {
      const hit: LogHit = { timestamp: nsToIso(ts), message: line };
      let fields: Record<string, unknown> = {};
      if (line.startsWith("{")) {
        try {
          const parsed: unknown = JSON.parse(line);
          if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
        } catch {
          // A line that only looks like JSON stays text.
        }
      }
      const message = fields.event ?? fields.message ?? fields.msg;
      if (typeof message === "string") hit.message = message;
      for (const [k, v] of Object.entries(fields)) {
        if (!["event", "message", "msg", "timestamp"].includes(k)) hit[k] = v;
      }
      for (const [k, v] of Object.entries(s.stream)) hit[k] = v;
      rows.push({ ns: BigInt(ts), hit });
    }
  }
  rows.sort((a, b) => (a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0));
  return rows.map((r) => r.hit);
}

/** A Loki nanosecond timestamp as RFC 3339 with nanoseconds. */
export function nsToIso(ns: string): string {
  const ms = Number(BigInt(ns) / 1_000_000n);
  const frac = (BigInt(ns) % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().replace(/\.\d+Z$/, `.${frac}Z`);
}

/** The fields of a hit other than the ones every row shows. */
export function extraFields(hit: LogHit): [string, unknown][] {
  return Object.entries(hit).filter(([k]) => !["timestamp", "message"].includes(k));
}
