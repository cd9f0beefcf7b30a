// stat, gauge and bar gauge panels: each series reduced to one number, coloured by the
// panel's thresholds, drawn with Mantine's progress widgets.
import { Center, Group, Progress, RingProgress, SimpleGrid, Stack, Text } from "@mantine/core";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { formatValue } from "../../format";
import { unitOf, type Panel } from "../model";
import type { PanelContext } from "./context";
import { reduce, useRangeSeries, type Reduced } from "./usePanelData";

const NAMED: Record<string, string> = {
  green: "#37b24d",
  red: "#e03131",
  orange: "#f76707",
  yellow: "#f59f00",
  blue: "#1c7ed6",
  purple: "#7048e8",
  "dark-red": "#a61e1e",
  "semi-dark-red": "#c92a2a",
  "light-red": "#ff6b6b",
  "dark-green": "#2b8a3e",
  "semi-dark-green": "#2f9e44",
  "light-green": "#69db7c",
  "dark-yellow": "#e67700",
  "dark-orange": "#d9480f",
  text: "#212529",
  transparent: "#adb5bd",
};

function cssColor(c: string): string {
  return NAMED[c] ?? c;
}

/** The colour of the highest threshold step at or below the value (Grafana's absolute mode). */
export function thresholdColor(panel: Panel, value: number | null): string {
  const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
  let color = "#37b24d";
  if (value === null) return "#868e96";
  for (const s of steps) {
    if (s.value === null || value >= s.value) color = cssColor(s.color);
  }
  return color;
}

function useReduced(panel: Panel, ctx: PanelContext) {
  const data = useRangeSeries(panel, ctx, 100);
  const calcs = (panel.options?.reduceOptions as { calcs?: string[] } | undefined)?.calcs;
  const reduced: Reduced[] = data.data ? reduce(data.data, calcs?.[0] ?? "lastNotNull") : [];
  return { data, reduced };
}

function bounds(panel: Panel): [number, number] {
  const unit = unitOf(panel);
  const d = panel.fieldConfig?.defaults;
  const max = d?.max ?? (unit === "percentunit" ? 1 : 100);
  return [d?.min ?? 0, max];
}

export function StatPanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const { data, reduced } = useReduced(panel, ctx);
  if (data.isLoading) return <Loading what="value" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (reduced.length === 0) return <Empty />;
  // The value fits the panel's height: a panel two grid rows tall shows it small.
  const labelled = reduced.length > 1 ? 16 : 0;
  const fz = Math.max(12, Math.min(reduced.length > 2 ? 22 : 34, Math.floor((height - labelled) * 0.8)));
  return (
    <SimpleGrid cols={Math.min(reduced.length, 4)} spacing="xs" h="100%">
      {reduced.map((r, i) => {
        const text = formatValue(r.value, unitOf(panel), panel.fieldConfig?.defaults?.decimals);
        // ...and its width: at most the cell's width (a character is about 0.6 em).
        const fontSize = `min(${fz}px, ${(150 / Math.max(text.length, 1)).toFixed(1)}cqw)`;
        return (
        <Center key={i} h="100%" style={{ containerType: "inline-size" }}>
          <Stack gap={0} align="center">
            <Text fw={700} lh={1.1} c={thresholdColor(panel, r.value)} data-testid="stat-value" style={{ whiteSpace: "nowrap", fontSize }}>
              {text}
            </Text>
            {reduced.length > 1 && (
              <Text size="xs" c="dimmed" ta="center" lineClamp={1}>
                {r.label}
              </Text>
            )}
          </Stack>
        </Center>
        );
      })}
    </SimpleGrid>
  );
}

export function GaugePanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const { data, reduced } = useReduced(panel, ctx);
  if (data.isLoading) return <Loading what="value" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (reduced.length === 0) return <Empty />;
  const [min, max] = bounds(panel);
  const size = Math.max(70, Math.min(height - 30, 180));
  return (
    <Group justify="center" gap="md" h="100%">
      {reduced.slice(0, 6).map((r, i) => {
        const pct = r.value === null ? 0 : Math.max(0, Math.min(100, ((r.value - min) / (max - min || 1)) * 100));
        return (
          <Stack key={i} gap={0} align="center">
            <RingProgress
              size={size}
              thickness={Math.max(8, size / 10)}
              roundCaps
              sections={[{ value: pct, color: thresholdColor(panel, r.value) }]}
              label={
                <Text ta="center" fw={700} size="lg" data-testid="gauge-value">
                  {formatValue(r.value, unitOf(panel))}
                </Text>
              }
            />
            {reduced.length > 1 && (
              <Text size="xs" c="dimmed" lineClamp={1} maw={size}>
                {r.label}
              </Text>
            )}
          </Stack>
        );
      })}
    </Group>
  );
}

export function BarGaugePanel({ panel, ctx }: { panel: Panel; ctx: PanelContext }) {
  const { data, reduced } = useReduced(panel, ctx);
  if (data.isLoading) return <Loading what="values" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (reduced.length === 0) return <Empty />;
  const [min, boundMax] = bounds(panel);
  const max = panel.fieldConfig?.defaults?.max ?? Math.max(boundMax === 100 ? 0 : boundMax, ...reduced.map((r) => r.value ?? 0));
  return (
    <Stack gap={6} p={4}>
      {reduced.map((r, i) => (
        <div key={i}>
          <Group justify="space-between" gap="xs">
            <Text size="xs" lineClamp={1} style={{ flex: 1 }}>
              {r.label}
            </Text>
            <Text size="xs" fw={700} c={thresholdColor(panel, r.value)}>
              {formatValue(r.value, unitOf(panel))}
            </Text>
          </Group>
          <Progress
            size="lg"
            value={r.value === null ? 0 : Math.max(0, Math.min(100, ((r.value - min) / (max - min || 1)) * 100))}
            color={thresholdColor(panel, r.value)}
            data-testid="bar-gauge"
          />
        </div>
      ))}
    </Stack>
  );
}
