// The heavy widgets, each in its own chunk, with a placeholder while it loads.
import { lazy, Suspense } from "react";
import { Loading } from "./QueryState";
import type { TimeSeriesChartProps } from "./TimeSeriesChart";
import type { QueryEditorProps } from "./QueryEditor";

const ChartImpl = lazy(() => import("./TimeSeriesChart"));
const EditorImpl = lazy(() => import("./QueryEditor"));

export function Chart(props: TimeSeriesChartProps) {
  return (
    <Suspense fallback={<Loading what="chart" />}>
      <ChartImpl {...props} />
    </Suspense>
  );
}

export function Editor(props: QueryEditorProps) {
  return (
    <Suspense fallback={<div className="lantern-editor" style={{ height: 34 }} />}>
      <EditorImpl {...props} />
    </Suspense>
  );
}
