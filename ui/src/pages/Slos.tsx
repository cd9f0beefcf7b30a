// SLOs: per SLO the error budget left (the numbers /api/v1/slos/<name> gives), its
// burn-down over the window, burn rates per window, firing burn-rate alerts, and warnings.
import { Alert as MAlert, Badge, Grid, Group, Paper, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { alerting, type Slo } from "../api";
import { Chart } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { useTimeRange } from "../timeRange";
import { formatDuration, parseDuration } from "../time";
import { formatValue } from "../format";

const STATUS_COLOR: Record<string, string> = {
  ok: "green",
  burning: "orange",
  exhausted: "red",
  "no data": "gray",
  flagged: "yellow",
};

/** Burn-rate thresholds of the multi-window alerts: page at 14.4x and 6x, ticket at 1x. */
function burnColor(b: number | null): string | undefined {
  if (b === null) return undefined;
  if (b >= 14.4) return "red";
  if (b >= 6) return "orange";
  if (b >= 1) return "yellow.8";
  return undefined;
}

export default function Slos() {
  const tr = useTimeRange();
  const slos = useQuery({ queryKey: ["slos", tr.tick], queryFn: ({ signal }) => alerting.slos(signal) });
  if (slos.isLoading) return <Loading what="SLOs" />;
  if (slos.error) return <ErrorNote error={slos.error} title="Could not read the SLOs" />;
  const list = slos.data?.slos ?? [];
  return (
    <Stack gap="sm">
      <Title order={3}>SLOs</Title>
      {list.length === 0 ? (
        <Empty>No SLOs are defined. List SLO files (the seed's format, OpenSLO or Sloth) under slo_files: in the config.</Empty>
      ) : (
        list.map((s) => <SloCard key={s.name} slo={s} />)
      )}
    </Stack>
  );
}

function SloCard({ slo }: { slo: Slo }) {
  const tr = useTimeRange();
  const burn = useQuery({
    queryKey: ["slo-budget", slo.name, tr.tick],
    queryFn: ({ signal }) => alerting.budget(slo.name, 120, signal),
  });
  const left = slo.budget_remaining_percent;
  const rates = Object.entries(slo.burn_rates).sort(([a], [b]) => (parseDuration(a) ?? 0) - (parseDuration(b) ?? 0));
  const series = burn.data
    ? [{ label: "budget left", points: burn.data.points.map(([t, v]) => [t * 1000, v] as [number, number | null]) }]
    : [];
  const hasPoints = series.length > 0 && series[0].points.some(([, v]) => v !== null);
  return (
    <Paper withBorder p="md" data-testid="slo-card">
      <Group justify="space-between" mb="xs">
        <div>
          <Group gap="xs">
            <Title order={4}>{slo.name}</Title>
            <Badge color={STATUS_COLOR[slo.status] ?? "gray"} data-testid="slo-status">
              {slo.status}
            </Badge>
          </Group>
          <Text size="sm" c="dimmed">
            {slo.description} · target {slo.target}% over {slo.window} · {slo.file}
          </Text>
        </div>
        {slo.alerts.length > 0 && (
          <Badge color="red" size="lg">
            {slo.alerts.length} burn-rate alert{slo.alerts.length > 1 ? "s" : ""} firing
          </Badge>
        )}
      </Group>
      {slo.warnings.map((w) => (
        <MAlert key={w} color="yellow" title="This SLO cannot be measured as written" mb="xs" data-testid="slo-warning">
          <Text size="sm">{w}</Text>
        </MAlert>
      ))}
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <SimpleGrid cols={2} spacing="xs">
            <Stat label="SLI now" value={slo.sli === null ? "—" : `${slo.sli.toFixed(3)}%`} />
            <Stat label="Budget left" value={left === null ? "—" : `${left.toFixed(1)}%`} testid="slo-budget-left" />
            <Stat label="Events (good / total)" value={slo.total === null ? "—" : `${formatValue(slo.good)} / ${formatValue(slo.total)}`} />
            <Stat
              label="Failures (used / allowed)"
              value={slo.budget_used === null ? "—" : `${formatValue(slo.budget_used)} / ${formatValue(slo.budget_total)}`}
            />
            <Stat
              label="Budget spent in"
              value={
                slo.time_to_exhaustion_seconds === null
                  ? "—"
                  : slo.time_to_exhaustion_seconds === 0
                    ? "spent"
                    : formatDuration(slo.time_to_exhaustion_seconds * 1000)
              }
            />
          </SimpleGrid>
          {left !== null && (
            <Progress
              mt="sm"
              size="lg"
              value={Math.max(0, Math.min(100, left))}
              color={left <= 0 ? "red" : left < 25 ? "orange" : "green"}
              aria-label="budget left"
            />
          )}
          <Text size="sm" fw={600} mt="sm">
            Burn rate per window (1 = spending the budget exactly over the window)
          </Text>
          <Table fz="xs" verticalSpacing={2} data-testid="burn-rates">
            <Table.Tbody>
              <Table.Tr>
                {rates.map(([w]) => (
                  <Table.Th key={w}>{w}</Table.Th>
                ))}
              </Table.Tr>
              <Table.Tr>
                {rates.map(([w, b]) => (
                  <Table.Td key={w} c={burnColor(b)} fw={b !== null && b >= 1 ? 700 : undefined}>
                    {b === null ? "—" : `${formatValue(b)}x`}
                  </Table.Td>
                ))}
              </Table.Tr>
            </Table.Tbody>
          </Table>
          {slo.alerts.map((a, i) => (
            <Text key={i} size="xs" c="red" mt={4}>
              firing: {a.labels.alertname} {a.labels.severity ? `(${a.labels.severity})` : ""} {a.annotations.summary ?? ""}
            </Text>
          ))}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Text size="sm" fw={600}>
            Error budget left over the window
          </Text>
          {burn.isLoading ? (
            <Loading what="burn-down" />
          ) : burn.error ? (
            <ErrorNote error={burn.error} />
          ) : !hasPoints ? (
            <Empty>No events in the window yet, so no budget to draw.</Empty>
          ) : (
            <Chart series={series} unit="percent" height={200} showLegend={false} />
          )}
        </Grid.Col>
      </Grid>
    </Paper>
  );
}

function Stat({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" data-testid={testid}>
        {value}
      </Text>
    </div>
  );
}
