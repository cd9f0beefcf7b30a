// A heatmap of classic histogram buckets over time, drawn by uPlot: one row per bucket
// (`le`), one column per step, each cell shaded by its count. The cells are uPlot series
// whose `paths` fill rectangles through uPlot's own scales.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatTimeMs } from "../time";
import { formatValue } from "../format";
import { timeAxis, utc } from "./TimeSeriesChart";

export interface HeatmapProps {
  /** Step times (ms). */
  times: number[];
  /** Bucket upper bounds, ascending, as written (`0.1`, `+Inf`). */
  buckets: string[];
  /** counts[bucket][step]: events in that bucket during that step. */
  counts: (number | null)[][];
  height: number;
  onZoom?: (start: number, end: number) => void;
}

function shade(f: number): string {
  // Light yellow to dark red, like Grafana's "Oranges" scheme.
  const t = Math.max(0, Math.min(1, f));
  const r = Math.round(255 - 90 * t);
  const g = Math.round(245 - 215 * t);
  const b = Math.round(200 - 190 * t);
  return `rgb(${r},${g},${b})`;
}

export default function HeatmapChart({ times, buckets, counts, height, onZoom }: HeatmapProps) {
  const host = useRef<HTMLDivElement>(null);
  const zoom = useRef(onZoom);
  useEffect(() => {
    zoom.current = onZoom;
  });
  useEffect(() => {
    const node = host.current;
    if (!node || times.length === 0) return;
    const max = Math.max(1, ...counts.flat().map((v) => v ?? 0));
    const xs = times.map((t) => t / 1000);
    const cellW = xs.length > 1 ? xs[1] - xs[0] : 60;
    const cells: uPlot.Series.PathBuilder = (u, seriesIdx) => {
      const row = seriesIdx - 1;
      const data = u.data[seriesIdx];
      const ctx = u.ctx;
      ctx.save();
      for (let i = 0; i < xs.length; i++) {
        const v = data[i];
        if (v === null || v === undefined || v <= 0) continue;
        const x0 = u.valToPos(xs[i] - cellW, "x", true);
        const x1 = u.valToPos(xs[i], "x", true);
        const y0 = u.valToPos(row + 1, "y", true);
        const y1 = u.valToPos(row, "y", true);
        ctx.fillStyle = shade(v / max);
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0 - 1), Math.max(1, y1 - y0 - 1));
      }
      ctx.restore();
      return null;
    };
    const opts: uPlot.Options = {
      width: node.clientWidth,
      height,
      legend: { show: false },
      tzDate: utc,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: true }, y: { range: [0, buckets.length] } },
      axes: [
        { ...timeAxis(), grid: { show: false } },
        {
          stroke: "#555",
          grid: { show: false },
          size: 56,
          splits: () => buckets.map((_, i) => i + 0.5),
          values: (_u, splits) => splits.map((s) => `≤ ${buckets[Math.floor(s)] ?? ""}`),
        },
      ],
      series: [{}, ...buckets.map((b) => ({ label: `le ${b}`, paths: cells, points: { show: false } }))],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, "x") * 1000;
            const b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current?.(a, b);
          },
        ],
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            const top = u.cursor.top;
            if (idx === null || idx === undefined || top === undefined || top < 0) {
              node.title = "";
              return;
            }
            const row = Math.floor(u.posToVal(top, "y"));
            const v = counts[row]?.[idx];
            node.title = `${formatTimeMs(times[idx])}  ≤ ${buckets[row] ?? "?"}: ${formatValue(v ?? null)}`;
          },
        ],
      },
    };
    const u = new uPlot(opts, [xs, ...counts] as uPlot.AlignedData, node);
    const ro = new ResizeObserver(() => u.setSize({ width: node.clientWidth, height }));
    ro.observe(node);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [times, buckets, counts, height]);
  return <div ref={host} className="lantern-chart" data-testid="heatmap" />;
}
