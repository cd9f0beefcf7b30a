// heatmap panels over classic histograms: the query's bucket series (cumulative, by `le`)
// turned into counts per bucket and step.
import { lazy, Suspense } from "react";
import { useQuery } from "@tanstack/react-query";
import { metrics } from "../../api";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { sampleValue } from "../../metricsData";
import { stepFor } from "../../time";
import type { Panel } from "../model";
import type { PanelContext } from "./context";
import { metricTargets } from "./usePanelData";

const HeatmapChart = lazy(() => import("../../components/HeatmapChart"));

export interface Buckets {
  times: number[];
  buckets: string[];
  counts: (number | null)[][];
}

/** Cumulative bucket series (summed per `le`) into per-bucket counts at each step. */
export function bucketCounts(series: { le: string; points: [number, number | null][] }[]): Buckets {
  const byLe = new Map<string, Map<number, number>>();
  const times = new Set<number>();
  for (const s of series) {
    const m = byLe.get(s.le) ?? new Map<number, number>();
    for (const [t, v] of s.points) {
      if (v === null) continue;
      m.set(t, (m.get(t) ?? 0) + v);
      times.add(t);
    }
    byLe.set(s.le, m);
  }
  const les = [...byLe.keys()].sort((a, b) => Number(a.replace("+Inf", "Infinity")) - Number(b.replace("+Inf", "Infinity")));
  const ts = [...times].sort((a, b) => a - b);
  const counts = les.map((le, i) =>
    ts.map((t) => {
      const v = byLe.get(le)?.get(t);
      if (v === undefined) return null;
      const below = i > 0 ? (byLe.get(les[i - 1])?.get(t) ?? 0) : 0;
      return Math.max(0, v - below);
    }),
  );
  return { times: ts, buckets: les, counts };
}

export function HeatmapPanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const step = stepFor(ctx.end - ctx.start, 60);
  const targets = metricTargets(panel, ctx, step);
  const data = useQuery({
    queryKey: ["panel-heatmap", targets.map((t) => t.expr), ctx.start, ctx.end, step, ctx.tick],
    queryFn: async ({ signal }) => {
      const results = await Promise.all(targets.map((t) => metrics.range(t.expr, ctx.start, ctx.end, step, signal)));
      const series = results.flatMap((r) =>
        r.resultType === "matrix"
          ? r.result
              .filter((s) => s.metric.le !== undefined)
              .map((s) => ({ le: s.metric.le, points: s.values.map(([t, v]) => [t * 1000, sampleValue(v)] as [number, number | null]) }))
          : [],
      );
      return bucketCounts(series);
    },
    enabled: targets.length > 0,
  });
  if (data.isLoading) return <Loading what="buckets" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (!data.data || data.data.buckets.length === 0) {
    return <Empty>No histogram buckets (series with an le label) in this range.</Empty>;
  }
  return (
    <Suspense fallback={<Loading what="heatmap" />}>
      <HeatmapChart {...data.data} height={height - 8} onZoom={ctx.onZoom} />
    </Suspense>
  );
}
