// The options of a template variable: label_values(…), query_result(…), metrics(…),
// custom lists and intervals, read from Lantern (Prometheus's or Loki's API).
import { logs, metrics } from "../api";
import { seriesName } from "../format";
import { ALL, currentValues, interpolate, signalOf, variableQuery, type Dashboard, type VarValues, type VariableModel } from "./model";

export interface Option {
  value: string;
  text: string;
}

/** Applies a variable's `regex`: keeps matching values, or the first capture group. */
export function applyRegex(values: string[], regex: string | undefined): string[] {
  if (!regex) return values;
  const m = /^\/(.*)\/([gimsuy]*)$/.exec(regex);
  let re: RegExp;
  try {
    re = m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(regex);
  } catch {
    return values;
  }
  const out: string[] = [];
  for (const v of values) {
    const r = re.exec(v);
    if (r) out.push(r[1] ?? r[0]);
  }
  return [...new Set(out)];
}

/** `a,b,c` or `key : value` pairs (custom variables), `1m,5m` (interval variables). */
export function customOptions(q: string): Option[] {
  return q
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ",").trim())
    .filter((s) => s !== "")
    .map((s) => {
      const kv = /^(.*?)\s+:\s+(.*)$/.exec(s);
      return kv ? { text: kv[1], value: kv[2] } : { text: s, value: s };
    });
}

/** The options of a query variable, with other variables' values substituted in its query. */
export async function resolveOptions(
  v: VariableModel,
  dash: Dashboard,
  values: VarValues,
  vars: VariableModel[],
  start: number,
  end: number,
  signal?: AbortSignal,
): Promise<Option[]> {
  const q = interpolate(variableQuery(v), values, vars, {});
  let list: string[];
  switch (v.type) {
    case "custom":
    case "interval":
      return customOptions(q);
    case "constant":
    case "textbox":
      return [{ value: q, text: q }];
    case "query":
      list = await queryValues(q, signalOf(v.datasource, dash), start, end, signal);
      break;
    default:
      return (v.options ?? []).map((o) => ({ value: o.value, text: o.text ?? o.value }));
  }
  list = applyRegex(list, v.regex);
  const sort = typeof v.sort === "number" ? v.sort : 0;
  if (sort === 1 || sort === 5) list.sort();
  if (sort === 2 || sort === 6) list.sort().reverse();
  if (sort === 3) list.sort((a, b) => Number(a) - Number(b));
  if (sort === 4) list.sort((a, b) => Number(b) - Number(a));
  return list.map((s) => ({ value: s, text: s }));
}

async function queryValues(q: string, sig: string, start: number, end: number, signal?: AbortSignal): Promise<string[]> {
  const lv = /^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
  if (lv) {
    const [, selector, label] = lv;
    if (sig === "logs") return logs.lokiLabelValues(label, start, end, signal);
    return metrics.labelValues(label, selector ? [selector] : undefined, start, end, signal);
  }
  const names = /^metrics\((.*)\)\s*$/.exec(q);
  if (names) {
    const all = await metrics.labelValues("__name__", undefined, start, end, signal);
    return applyRegex(all, names[1].trim() || undefined);
  }
  const qr = /^query_result\((.*)\)\s*$/s.exec(q);
  if (qr) {
    const r = await metrics.instant(qr[1], end, signal);
    if (r.resultType === "vector") return r.result.map((s) => `${seriesName(s.metric)} ${s.value[1]} ${s.value[0] * 1000}`);
    if (r.resultType === "scalar") return [r.result[1]];
    return [];
  }
  const lnames = /^label_names\(\s*\)\s*$/.exec(q);
  if (lnames) return sig === "logs" ? logs.lokiLabels(start, end, signal) : metrics.labelValues("__name__", undefined, start, end, signal);
  if (q.trim() === "") return [];
  // A bare selector: its series' names.
  const series = await metrics.series([q], start, end, signal);
  return series.map((s) => s.__name__ ?? "");
}

/** The value a variable starts with: the URL's, else the saved current value, else the first option. */
export function initialValues(v: VariableModel, fromUrl: string[], options: Option[]): string[] {
  if (fromUrl.length > 0) return fromUrl;
  const cur = currentValues(v);
  if (cur.length > 0 && (cur.includes(ALL) || v.type !== "query" || cur.every((c) => options.some((o) => o.value === c)))) return cur;
  if (v.includeAll) return [ALL];
  return options.length > 0 ? [options[0].value] : cur;
}
