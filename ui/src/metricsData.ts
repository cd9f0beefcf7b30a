// Turns Prometheus query answers into what the charts and tables draw.
import type { ExemplarSeries, QueryResult } from "./api";
import type { ChartExemplar, ChartSeries } from "./components/TimeSeriesChart";
import { legendFormat, seriesName } from "./format";

/** Parses a sample value as Prometheus writes it ("NaN", "+Inf", "1e3"). */
export function sampleValue(v: string): number | null {
  const n = Number(v.replace("+Inf", "Infinity").replace("-Inf", "-Infinity"));
  return Number.isFinite(n) ? n : null;
}

/** Chart series from a range (or instant) query's answer. */
export function toChartSeries(result: QueryResult, legend?: string): ChartSeries[] {
  switch (result.resultType) {
    case "matrix":
      return result.result.map((s) => ({
        label: legendFormat(legend, s.metric),
        points: s.values.map(([t, v]) => [t * 1000, sampleValue(v)] as [number, number | null]),
      }));
    case "vector":
      return result.result.map((s) => ({
        label: legendFormat(legend, s.metric),
        points: [[s.value[0] * 1000, sampleValue(s.value[1])]],
      }));
    case "scalar":
      return [{ label: "scalar", points: [[result.result[0] * 1000, sampleValue(result.result[1])]] }];
    default:
      return [];
  }
}

/** Exemplar dots: the value and time of each, with its series named. */
export function toChartExemplars(series: ExemplarSeries[]): ChartExemplar[] {
  const out: ChartExemplar[] = [];
  for (const s of series) {
    for (const e of s.exemplars) {
      const v = sampleValue(e.value);
      if (v === null) continue;
      out.push({ time: e.timestamp * 1000, value: v, labels: e.labels, series: seriesName(s.seriesLabels) });
    }
  }
  return out;
}

/** The trace an exemplar names, under the label names SDKs use. */
export function exemplarTraceId(labels: Record<string, string>): string | null {
  return labels.trace_id ?? labels.traceID ?? labels.traceId ?? labels.TraceID ?? null;
}

/** How many points a result holds (for "no data" checks). */
export function pointCount(series: ChartSeries[]): number {
  return series.reduce((n, s) => n + s.points.filter(([, v]) => v !== null).length, 0);
}
