// Queries of a panel, run against Lantern with the variables substituted: range series
// for charts, reduced values for stat/gauge/bar gauge, instant rows for tables.
import { useQuery } from "@tanstack/react-query";
import { metrics, type Labels } from "../../api";
import { legendFormat } from "../../format";
import { toChartSeries } from "../../metricsData";
import { stepFor } from "../../time";
import type { ChartSeries } from "../../components/TimeSeriesChart";
import { builtins, interpolate, targetSignal, type Panel, type Target } from "../model";
import type { PanelContext } from "./context";

/** A panel's metric queries, ready to run (hidden ones and other signals left out). */
export function metricTargets(panel: Panel, ctx: PanelContext, step: number): { target: Target; expr: string }[] {
  const b = builtins(ctx.start, ctx.end, step);
  return (panel.targets ?? [])
    .filter((t) => !t.hide && typeof t.expr === "string" && t.expr.trim() !== "" && targetSignal(panel, t, ctx.dash) === "metrics")
    .map((t) => ({ target: t, expr: interpolate(t.expr ?? "", ctx.values, ctx.vars, b) }));
}

/** The series of every metric query of a panel over the range. */
export function useRangeSeries(panel: Panel, ctx: PanelContext, points = 200) {
  const step = stepFor(ctx.end - ctx.start, points);
  const targets = metricTargets(panel, ctx, step);
  return useQuery({
    queryKey: ["panel-range", targets.map((t) => t.expr), ctx.start, ctx.end, step, ctx.tick],
    queryFn: async ({ signal }): Promise<ChartSeries[]> => {
      const results = await Promise.all(targets.map((t) => metrics.range(t.expr, ctx.start, ctx.end, step, signal)));
      return results.flatMap((r, i) => toChartSeries(r, targets[i].target.legendFormat));
    },
    enabled: targets.length > 0,
  });
}

export interface Reduced {
  label: string;
  value: number | null;
  series: ChartSeries;
}

/** Each series reduced to one number (Grafana's `reduceOptions.calcs`, last non-null by default). */
export function reduce(series: ChartSeries[], calc: string): Reduced[] {
  return series.map((s) => {
    const vals = s.points.map(([, v]) => v).filter((v): v is number => v !== null && Number.isFinite(v));
    let value: number | null = null;
    if (vals.length > 0) {
      switch (calc) {
        case "mean":
          value = vals.reduce((a, b) => a + b, 0) / vals.length;
          break;
        case "max":
          value = Math.max(...vals);
          break;
        case "min":
          value = Math.min(...vals);
          break;
        case "sum":
          value = vals.reduce((a, b) => a + b, 0);
          break;
        case "first":
        case "firstNotNull":
          value = vals[0];
          break;
        default:
          value = vals[vals.length - 1];
      }
    }
    return { label: s.label, value, series: s };
  });
}

export interface TableRow {
  labels: Labels;
  values: Record<string, number | null>;
}

/** Instant values of every metric query, one row per label set, one column per query. */
export function useInstantRows(panel: Panel, ctx: PanelContext) {
  const targets = metricTargets(panel, ctx, stepFor(ctx.end - ctx.start));
  return useQuery({
    queryKey: ["panel-instant", targets.map((t) => t.expr), ctx.end, ctx.tick],
    queryFn: async ({ signal }) => {
      const results = await Promise.all(targets.map((t) => metrics.instant(t.expr, ctx.end, signal)));
      const rows = new Map<string, TableRow>();
      const columns: string[] = [];
      results.forEach((r, i) => {
        const col = targets.length > 1 ? (targets[i].target.refId ?? `#${i + 1}`) : "Value";
        columns.push(col);
        if (r.resultType === "vector") {
          for (const s of r.result) {
            const key = JSON.stringify(Object.entries(s.metric).sort());
            const row = rows.get(key) ?? { labels: s.metric, values: {} };
            const v = Number(s.value[1]);
            row.values[col] = Number.isFinite(v) ? v : null;
            rows.set(key, row);
          }
        } else if (r.resultType === "scalar") {
          rows.set(`scalar-${i}`, { labels: {}, values: { [col]: Number(r.result[1]) } });
        }
      });
      return { columns, rows: [...rows.values()] };
    },
    enabled: targets.length > 0,
  });
}

/** The legend of one series as its query wants it. */
export { legendFormat };
