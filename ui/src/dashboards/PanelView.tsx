// One dashboard panel: its frame (title, description, a menu leading to Explore, the
// logs and the traces of the range) and its body by type. A type Lantern does not draw
// says so and is kept as it is.
import type { ReactNode } from "react";
import { ActionIcon, Menu, Paper, Stack, Text, Tooltip, Group } from "@mantine/core";
import { useNavigate } from "react-router";
import { Empty } from "../components/QueryState";
import { DRAWN, type Panel } from "./model";
import type { PanelContext } from "./panels/context";
import { TimeSeriesPanel } from "./panels/TimeSeriesPanel";
import { BarGaugePanel, GaugePanel, StatPanel } from "./panels/StatPanels";
import { TablePanel } from "./panels/TablePanel";
import { HeatmapPanel } from "./panels/HeatmapPanel";
import { LogsPanel } from "./panels/LogsPanel";
import { TracesPanel } from "./panels/TracesPanel";
import { TextPanel } from "./panels/TextPanel";
import { metricTargets } from "./panels/usePanelData";
import { stepFor } from "../time";

/** Pixel height of a panel `h` grid rows tall (Grafana's 30 px rows, 8 px gaps). */
export function panelHeight(h: number): number {
  return h * 30 + (h - 1) * 8;
}

/** The service a panel's queries are about (`job="x"` or `service="x"`), if one. */
export function serviceOf(exprs: string[]): string | undefined {
  for (const e of exprs) {
    const m = /\b(?:job|service)\s*=\s*"([^"]+)"/.exec(e);
    if (m) return m[1];
  }
  return undefined;
}

function body(panel: Panel, ctx: PanelContext, height: number): ReactNode {
  switch (panel.type) {
    case "timeseries":
    case "graph":
      return <TimeSeriesPanel panel={panel} ctx={ctx} height={height} />;
    case "stat":
    case "singlestat":
      return <StatPanel panel={panel} ctx={ctx} height={height} />;
    case "gauge":
      return <GaugePanel panel={panel} ctx={ctx} height={height} />;
    case "bargauge":
      return <BarGaugePanel panel={panel} ctx={ctx} />;
    case "table":
      return <TablePanel panel={panel} ctx={ctx} height={height} />;
    case "heatmap":
      return <HeatmapPanel panel={panel} ctx={ctx} height={height} />;
    case "logs":
      return <LogsPanel panel={panel} ctx={ctx} height={height} />;
    case "traces":
      return <TracesPanel panel={panel} ctx={ctx} height={height} />;
    case "text":
      return <TextPanel panel={panel} height={height} />;
    default:
      return <Empty>unsupported panel type {panel.type}</Empty>;
  }
}

export function PanelView({ panel, ctx }: { panel: Panel; ctx: PanelContext }) {
  const navigate = useNavigate();
  const h = panel.gridPos?.h ?? 8;
  const height = panelHeight(h) - 34;
  const exprs = metricTargets(panel, ctx, stepFor(ctx.end - ctx.start)).map((t) => t.expr);
  const service = serviceOf(exprs);
  const range = `from=${encodeURIComponent(new Date(ctx.start).toISOString())}&to=${encodeURIComponent(new Date(ctx.end).toISOString())}`;
  const logsQuery = service ? `service:"${service}" AND level:error` : "level:error";
  return (
    <Paper
      withBorder
      p={6}
      style={{
        gridColumn: `${(panel.gridPos?.x ?? 0) + 1} / span ${panel.gridPos?.w ?? 12}`,
        gridRow: `${(panel.gridPos?.y ?? 0) + 1} / span ${h}`,
        overflow: "hidden",
        minWidth: 0,
      }}
      data-testid="panel"
      data-panel-type={panel.type}
      data-drawn={DRAWN.has(panel.type) ? "true" : "false"}
    >
      <Stack gap={4} h="100%">
        <Group justify="space-between" wrap="nowrap" gap={4}>
          <Tooltip label={panel.description} disabled={!panel.description} multiline w={300}>
            <Text size="sm" fw={600} lineClamp={1} data-testid="panel-title">
              {panel.title || "\u00a0"}
            </Text>
          </Tooltip>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon size="sm" variant="subtle" color="gray" aria-label={`menu of ${panel.title ?? "panel"}`}>
                ⋮
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              {exprs.length > 0 && (
                <Menu.Item onClick={() => navigate(`/explore?query=${encodeURIComponent(exprs[0])}&${range}`)}>
                  Explore this query
                </Menu.Item>
              )}
              <Menu.Item onClick={() => navigate(`/logs?query=${encodeURIComponent(logsQuery)}&${range}`)} data-testid="panel-logs">
                Error logs in this range{service ? ` (${service})` : ""}
              </Menu.Item>
              <Menu.Item
                onClick={() => navigate(`/traces?status=error${service ? `&service=${encodeURIComponent(service)}` : ""}&${range}`)}
              >
                Failed traces in this range
              </Menu.Item>
              <Menu.Item onClick={() => navigate(`/investigate?${range}`)}>Investigate this range</Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
        <div style={{ flex: 1, minHeight: 0 }}>{body(panel, ctx, height)}</div>
      </Stack>
    </Paper>
  );
}
