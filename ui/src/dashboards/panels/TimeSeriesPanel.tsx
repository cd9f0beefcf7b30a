// timeseries and (legacy) graph panels: every metric query's series on one uPlot chart.
import { Chart } from "../../components/Lazy";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { pointCount } from "../../metricsData";
import { unitOf, type Panel } from "../model";
import type { PanelContext } from "./context";
import { useRangeSeries } from "./usePanelData";

export function TimeSeriesPanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const data = useRangeSeries(panel, ctx);
  if (data.isLoading) return <Loading what="series" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (!data.data || pointCount(data.data) === 0) return <Empty />;
  const custom = panel.fieldConfig?.defaults?.custom ?? {};
  const stacked = panel.stack === true || (custom.stacking as { mode?: string } | undefined)?.mode === "normal";
  const bars = panel.bars === true || custom.drawStyle === "bars";
  const legendRows = Math.min(data.data.length, 4);
  return (
    <Chart
      series={data.data}
      unit={unitOf(panel)}
      height={Math.max(80, height - 24 - legendRows * 18)}
      stacked={stacked}
      bars={bars}
      range={[ctx.start, ctx.end]}
      onZoom={ctx.onZoom}
    />
  );
}
