// Time series drawn by uPlot: a legend, a tooltip, zoom by dragging, and exemplars as
// dots that open their trace. Loaded on demand (uPlot is its own chunk).
import { useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatValue } from "../format";
import { formatTimeMs } from "../time";
import { colorFor } from "./palette";

export interface ChartSeries {
  label: string;
  /** [milliseconds, value] pairs, in time order. */
  points: [number, number | null][];
  color?: string;
}

export interface ChartExemplar {
  time: number;
  value: number;
  labels: Record<string, string>;
  series: string;
}

export interface TimeSeriesChartProps {
  series: ChartSeries[];
  exemplars?: ChartExemplar[];
  height?: number;
  unit?: string;
  /** Draw bars instead of lines (a log volume). */
  bars?: boolean;
  stacked?: boolean;
  /** Called with the dragged range, in milliseconds. */
  onZoom?: (start: number, end: number) => void;
  onExemplarClick?: (e: ChartExemplar) => void;
  /** The x range to show, in milliseconds (the query's range). */
  range?: [number, number];
  showLegend?: boolean;
  /** What a dot is called in the tooltip ("exemplar", "trace"). */
  pointName?: string;
}

/** The aligned table uPlot draws: the union of every series' times, then one row per series. */
/** Times just after each point that is followed by a silence longer than twice the step. */
function gapsOf(points: [number, number | null][]): number[] {
  let step = Infinity;
  for (let i = 1; i < points.length; i++) step = Math.min(step, points[i][0] - points[i - 1][0]);
  if (!Number.isFinite(step) || step <= 0) return [];
  const out: number[] = [];
  for (let i = 1; i < points.length; i++) {
    if (points[i][0] - points[i - 1][0] > 2 * step) out.push(points[i - 1][0] + step);
  }
  return out;
}

export function align(series: ChartSeries[], exemplars: ChartExemplar[], stacked: boolean): uPlot.AlignedData {
  const times = new Set<number>();
  for (const s of series) for (const [t] of s.points) times.add(t);
  // A series silent for more than twice its own step has a gap: a null just after its
  // last point before the silence.
  const breaks = series.map((s) => gapsOf(s.points));
  for (const b of breaks) for (const t of b) times.add(t);
  // Steps where some series has a point: a series without one there has a gap (null).
  const steps = new Set(times);
  for (const e of exemplars) times.add(e.time);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const rows: (number | null | undefined)[][] = [];
  const sums = new Array<number>(xs.length).fill(0);
  for (const s of series) {
    // null: a step without a point (a gap); undefined: a time only an exemplar has (joined over).
    const row = xs.map((t) => (steps.has(t) ? null : undefined)) as (number | null | undefined)[];
    for (const [t, v] of s.points) {
      const i = index.get(t);
      if (i === undefined) continue;
      if (stacked && v !== null) {
        sums[i] += v;
        row[i] = sums[i];
      } else row[i] = v;
    }
    rows.push(row);
  }
  if (exemplars.length > 0) {
    const row = new Array<number | null | undefined>(xs.length).fill(undefined);
    for (const e of exemplars) row[index.get(e.time) ?? 0] = e.value;
    rows.push(row);
  }
  return [xs.map((t) => t / 1000), ...rows] as uPlot.AlignedData;
}

function tooltipPlugin(
  unit: string | undefined,
  exemplarsAt: () => ChartExemplar[],
  nSeries: number,
  pointName: string,
): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement("div");
        tip.className = "lantern-tooltip";
        tip.style.display = "none";
        u.over.appendChild(tip);
        u.over.addEventListener("mouseleave", () => {
          if (tip) tip.style.display = "none";
        });
      },
      setCursor: (u) => {
        if (!tip) return;
        const { left, top, idx } = u.cursor;
        if (idx === null || idx === undefined || left === undefined || left < 0) {
          tip.style.display = "none";
          return;
        }
        const lines: string[] = [`<b>${formatTimeMs(u.data[0][idx] * 1000)}</b>`];
        const ex = nearestExemplar(u, exemplarsAt(), nSeries);
        if (ex) {
          lines.push(`${pointName} ${formatValue(ex.value, unit)}`);
          for (const [k, v] of Object.entries(ex.labels)) lines.push(`${escape(k)}: ${escape(v)}`);
          lines.push("<i>click to open the trace</i>");
        } else {
          const vals: [string, number, string][] = [];
          for (let i = 1; i <= nSeries; i++) {
            const v = u.data[i][idx];
            if (v === null || v === undefined) continue;
            const s = u.series[i];
            vals.push([String(s.label ?? ""), v, String(s.stroke ?? "")]);
          }
          vals.sort((a, b) => b[1] - a[1]);
          for (const [label, v, color] of vals.slice(0, 12)) {
            lines.push(`<span style="color:${color}">■</span> ${escape(label)}: <b>${formatValue(v, unit)}</b>`);
          }
          if (vals.length > 12) lines.push(`… ${vals.length - 12} more`);
        }
        tip.innerHTML = lines.join("<br>");
        tip.style.display = "block";
        const w = u.over.clientWidth;
        const x = (left ?? 0) + 12;
        tip.style.left = x + tip.offsetWidth > w ? `${Math.max(0, (left ?? 0) - tip.offsetWidth - 12)}px` : `${x}px`;
        tip.style.top = `${Math.max(0, (top ?? 0) - 10)}px`;
      },
    },
  };
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

/** The exemplar within 8 pixels of the cursor, if any. */
function nearestExemplar(u: uPlot, exemplars: ChartExemplar[], nSeries: number): ChartExemplar | null {
  const { left, top } = u.cursor;
  if (left === undefined || top === undefined || exemplars.length === 0 || u.series.length <= nSeries + 1) return null;
  let best: ChartExemplar | null = null;
  let bestD = 8;
  for (const e of exemplars) {
    const x = u.valToPos(e.time / 1000, "x");
    const y = u.valToPos(e.value, "y");
    const d = Math.hypot(x - left, y - top);
    if (d < bestD) {
      bestD = d;
      best = e;
    }
  }
  return best;
}

/** Times on the x axis, in UTC like every time the UI prints: dates only over days. */
export function timeAxis(): uPlot.Axis {
  return {
    stroke: "#555",
    grid: { stroke: "#eee" },
    ticks: { stroke: "#ddd" },
    space: 70,
    values: (_u, splits) => {
      const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
      const fmt = uPlot.fmtDate(span > 3 * 86400 ? "{M}/{D}" : span > 86400 ? "{M}/{D} {HH}:{mm}" : span < 300 ? "{HH}:{mm}:{ss}" : "{HH}:{mm}");
      return splits.map((s) => fmt(utc(s)));
    },
  };
}

/** uPlot's dates are local; the UI's are UTC. */
export function utc(secs: number): Date {
  return uPlot.tzDate(new Date(secs * 1000), "Etc/UTC");
}

export default function TimeSeriesChart(props: TimeSeriesChartProps) {
  const { series, exemplars = [], height = 280, unit, bars = false, stacked = false, range, showLegend = true } = props;
  const pointName = props.pointName ?? "exemplar";
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const callbacks = useRef(props);
  const exemplarRef = useRef(exemplars);
  useEffect(() => {
    callbacks.current = props;
    exemplarRef.current = exemplars;
  });

  const data = useMemo(() => align(series, exemplars, stacked), [series, exemplars, stacked]);

  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const n = series.length;
    const opts: uPlot.Options = {
      width: Math.max(node.clientWidth, 100),
      height,
      legend: { show: showLegend, live: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      scales: {
        x: { time: true, ...(range ? { range: () => [range[0] / 1000, range[1] / 1000] as uPlot.Range.MinMax } : {}) },
        // Bars and stacks stand on zero.
        y: bars || stacked ? { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } : { auto: true },
      },
      tzDate: utc,
      axes: [
        timeAxis(),
        {
          stroke: "#555",
          grid: { stroke: "#eee" },
          ticks: { stroke: "#ddd" },
          // Wide enough for the longest label ("-22459%", "512 MiB").
          size: (_u, values) => (values ? Math.max(40, ...values.map((v) => String(v).length * 7 + 18)) : 50),
          values: (_u, vals) => vals.map((v) => formatValue(v, unit)),
        },
      ],
      series: [
        { label: "Time", value: (_u, v) => (v === null ? "—" : formatTimeMs(v * 1000)) },
        ...series.map((s, i) => {
          const color = s.color ?? colorFor(i);
          return {
            label: s.label,
            stroke: color,
            width: 1.5,
            fill: bars || stacked ? color + "55" : undefined,
            paths: bars ? uPlot.paths.bars?.({ size: [0.8, 40] }) : undefined,
            // Dots where points are sparse enough to see (uPlot's default) or too few to
            // make a line; never on bars.
            ...(bars ? { points: { show: false } } : s.points.filter(([, v]) => v !== null).length < 30 ? { points: { show: true, size: 5 } } : {}),
            value: (_u: uPlot, v: number | null) => formatValue(v, unit),
          } satisfies uPlot.Series;
        }),
        ...(exemplars.length > 0
          ? [
              {
                label: pointName === "exemplar" ? "Exemplars" : pointName,
                stroke: "#6741d9",
                fill: "#6741d9",
                paths: () => null,
                points: { show: true, size: 8, stroke: "#6741d9", fill: "#b197fc", width: 1 },
                value: (_u: uPlot, v: number | null) => formatValue(v, unit),
              } satisfies uPlot.Series,
            ]
          : []),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, "x") * 1000;
            const b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            callbacks.current.onZoom?.(a, b);
          },
        ],
      },
      plugins: [tooltipPlugin(unit, () => exemplarRef.current, n, pointName)],
    };
    const u = new uPlot(opts, data, node);
    plot.current = u;
    const click = () => {
      const ex = nearestExemplar(u, exemplarRef.current, n);
      if (ex) callbacks.current.onExemplarClick?.(ex);
    };
    u.over.addEventListener("click", click);
    const ro = new ResizeObserver(() => {
      const w = node.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(node);
    return () => {
      ro.disconnect();
      u.over.removeEventListener("click", click);
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt when its shape changes; new data alone goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [series.length, exemplars.length > 0, pointName, height, unit, bars, stacked, showLegend, range?.[0], range?.[1], series.map((s) => s.label).join("\u0000")]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={el} className="lantern-chart" data-testid="chart" />;
}
