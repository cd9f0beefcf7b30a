// A trace's spans as a waterfall: the span tree on the left (collapse and expand), bars on
// the trace's time axis on the right in service colours, failed spans marked, and the
// critical path drawn darker inside each bar.
import { ActionIcon, Group, Text, Tooltip } from "@mantine/core";
import type { CriticalPath } from "../api";
import { visibleRows, type TraceTree } from "../traceModel";
import { formatDuration } from "../time";
import { colorForName } from "./palette";

export interface WaterfallProps {
  tree: TraceTree;
  critical?: CriticalPath;
  collapsed: Set<string>;
  onToggle: (id: string) => void;
  selected: string | null;
  onSelect: (id: string) => void;
}

const LABEL_WIDTH = "36%";

export function Waterfall({ tree, critical, collapsed, onToggle, selected, onSelect }: WaterfallProps) {
  const rows = visibleRows(tree, collapsed);
  const total = Math.max(tree.duration, 1);
  const startNs = tree.start * 1000;
  const sections = new Map<string, { start: number; end: number }[]>();
  for (const s of critical?.sections ?? []) {
    const list = sections.get(s.spanID) ?? [];
    list.push({ start: (s.start_ns - startNs) / 1000, end: (s.end_ns - startNs) / 1000 });
    sections.set(s.spanID, list);
  }
  const pct = (us: number) => `${Math.min(100, Math.max(0, (us / total) * 100))}%`;
  return (
    <div data-testid="waterfall">
      <div className="lantern-waterfall-row" style={{ cursor: "default", fontSize: 11, color: "var(--mantine-color-dimmed)" }}>
        <div style={{ width: LABEL_WIDTH, paddingLeft: 4 }}>Service: operation</div>
        <div style={{ flex: 1, position: "relative", height: "100%" }}>
          {[0, 0.25, 0.5, 0.75, 1].map((f) => (
            <span
              key={f}
              style={{ position: "absolute", left: `${f * 100}%`, top: 6, transform: f === 1 ? "translateX(-100%)" : f > 0 ? "translateX(-50%)" : undefined }}
            >
              {formatDuration((total * f) / 1000)}
            </span>
          ))}
        </div>
      </div>
      {rows.map((id) => {
        const n = tree.nodes.get(id);
        if (!n) return null;
        const color = colorForName(n.service);
        const onPath = sections.get(id);
        // Long bars carry their duration inside, at their right end.
        const wide = n.offset + n.span.duration > total * 0.8 && n.span.duration > total * 0.2;
        return (
          <div
            key={id}
            className={`lantern-waterfall-row${selected === id ? " selected" : ""}`}
            onClick={() => onSelect(id)}
            data-testid="span-row"
            data-error={n.error ? "true" : undefined}
          >
            <div style={{ width: LABEL_WIDTH, paddingLeft: 4 + n.depth * 14, overflow: "hidden", whiteSpace: "nowrap" }}>
              <Group gap={4} wrap="nowrap">
                {n.children.length > 0 ? (
                  <ActionIcon
                    size="xs"
                    variant="subtle"
                    color="gray"
                    aria-label={collapsed.has(id) ? "expand" : "collapse"}
                    onClick={(e) => {
                      e.stopPropagation();
                      onToggle(id);
                    }}
                  >
                    {collapsed.has(id) ? "▸" : "▾"}
                  </ActionIcon>
                ) : (
                  <span style={{ width: 18, display: "inline-block" }} />
                )}
                <span style={{ width: 4, height: 16, background: color, borderRadius: 2, flex: "none" }} />
                <Text size="xs" fw={600} span c={n.error ? "red.7" : undefined}>
                  {n.error ? "⚠ " : ""}
                  {n.service}
                </Text>
                <Text size="xs" span c="dimmed" style={{ overflow: "hidden", textOverflow: "ellipsis" }}>
                  {n.span.operationName}
                </Text>
              </Group>
            </div>
            <div style={{ flex: 1, position: "relative", height: "100%" }}>
              <Tooltip label={`${n.span.operationName}: ${formatDuration(n.span.duration / 1000)}${onPath ? " · on the critical path" : ""}`}>
                <div
                  style={{
                    position: "absolute",
                    left: pct(n.offset),
                    width: `max(2px, ${pct(n.span.duration)})`,
                    top: 6,
                    height: 14,
                    background: color + "66",
                    border: n.error ? "2px solid #e03131" : `1px solid ${color}`,
                    borderRadius: 2,
                    boxSizing: "border-box",
                  }}
                  data-critical={onPath ? "true" : undefined}
                >
                  {onPath?.map((s, i) => (
                    <div
                      key={i}
                      style={{
                        position: "absolute",
                        top: 0,
                        bottom: 0,
                        left: `${((s.start - n.offset) / Math.max(n.span.duration, 1)) * 100}%`,
                        width: `${((s.end - s.start) / Math.max(n.span.duration, 1)) * 100}%`,
                        background: color,
                      }}
                    />
                  ))}
                </div>
              </Tooltip>
              <Text
                size="xs"
                c={wide ? "dark" : "dimmed"}
                fw={wide ? 600 : undefined}
                style={{
                  position: "absolute",
                  top: 5,
                  ...(wide
                    ? { right: `calc(${pct(total - n.offset - n.span.duration)} + 6px)` }
                    : { left: `calc(${pct(n.offset + n.span.duration)} + 4px)` }),
                  whiteSpace: "nowrap",
                  pointerEvents: "none",
                }}
              >
                {formatDuration(n.span.duration / 1000)}
              </Text>
            </div>
          </div>
        );
      })}
    </div>
  );
}
