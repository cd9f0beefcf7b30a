// A Jaeger trace as the trace view draws it: spans in tree order with depth, service,
// status and timing, plus summaries for search results. Pure functions.
import type { JaegerSpan, JaegerTag, JaegerTrace } from "./api";

export interface SpanNode {
  span: JaegerSpan;
  service: string;
  depth: number;
  parentId: string | null;
  children: string[];
  error: boolean;
  kind: string;
  /** µs since the trace's start. */
  offset: number;
}

export interface TraceTree {
  traceId: string;
  start: number; // µs since the epoch
  duration: number; // µs
  nodes: Map<string, SpanNode>;
  /** Span IDs in display order (depth first, children by start time). */
  order: string[];
  services: string[];
  errors: number;
  root: SpanNode | null;
}

export function tag(tags: JaegerTag[], key: string): JaegerTag["value"] | undefined {
  return tags.find((t) => t.key === key)?.value;
}

/** Whether a span failed: OTLP status ERROR (Jaeger's `error=true` tag). */
export function isError(span: JaegerSpan): boolean {
  const e = tag(span.tags, "error");
  return e === true || e === "true" || tag(span.tags, "otel.status_code") === "ERROR";
}

export function buildTree(trace: JaegerTrace): TraceTree {
  const nodes = new Map<string, SpanNode>();
  let start = Infinity;
  let end = -Infinity;
  for (const s of trace.spans) {
    start = Math.min(start, s.startTime);
    end = Math.max(end, s.startTime + s.duration);
  }
  for (const s of trace.spans) {
    const parent = s.references.find((r) => r.refType === "CHILD_OF" && r.traceID === s.traceID)?.spanID ?? null;
    nodes.set(s.spanID, {
      span: s,
      service: trace.processes[s.processID]?.serviceName ?? "unknown",
      depth: 0,
      parentId: parent,
      children: [],
      error: isError(s),
      kind: String(tag(s.tags, "span.kind") ?? ""),
      offset: s.startTime - start,
    });
  }
  const roots: string[] = [];
  for (const [id, n] of nodes) {
    if (n.parentId && nodes.has(n.parentId)) nodes.get(n.parentId)?.children.push(id);
    else roots.push(id);
  }
  const byStart = (a: string, b: string) => (nodes.get(a)?.span.startTime ?? 0) - (nodes.get(b)?.span.startTime ?? 0);
  const order: string[] = [];
  const visit = (id: string, depth: number) => {
    const n = nodes.get(id);
    if (!n) return;
    n.depth = depth;
    order.push(id);
    n.children.sort(byStart);
    n.children.forEach((c) => visit(c, depth + 1));
  };
  roots.sort(byStart).forEach((r) => visit(r, 0));
  const services = [...new Set([...nodes.values()].map((n) => n.service))];
  const errors = [...nodes.values()].filter((n) => n.error).length;
  return {
    traceId: trace.traceID,
    start: Number.isFinite(start) ? start : 0,
    duration: Number.isFinite(end - start) ? end - start : 0,
    nodes,
    order,
    services,
    errors,
    root: roots.length > 0 ? (nodes.get(roots[0]) ?? null) : null,
  };
}

/** The rows shown when some spans are collapsed: their descendants are hidden. */
export function visibleRows(tree: TraceTree, collapsed: Set<string>): string[] {
  const out: string[] = [];
  const hiddenBelow: number[] = [];
  for (const id of tree.order) {
    const n = tree.nodes.get(id);
    if (!n) continue;
    while (hiddenBelow.length > 0 && hiddenBelow[hiddenBelow.length - 1] >= n.depth) hiddenBelow.pop();
    if (hiddenBelow.length > 0) continue;
    out.push(id);
    if (collapsed.has(id)) hiddenBelow.push(n.depth);
  }
  return out;
}

/** The first failing span deepest in the tree: where the error started. */
export function failingSpan(tree: TraceTree): SpanNode | null {
  let best: SpanNode | null = null;
  for (const id of tree.order) {
    const n = tree.nodes.get(id);
    if (n?.error && (!best || n.depth > best.depth)) best = n;
  }
  return best;
}
