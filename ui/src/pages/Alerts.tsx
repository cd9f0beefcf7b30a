// Alerts and rules: every rule group with its rules' health and last evaluation, and the
// pending and firing alerts with their labels and annotations; each rule's query opens
// in Explore.
import { useState } from "react";
import { Accordion, Anchor, Badge, Group, Paper, SegmentedControl, Stack, Table, Text, Title, Code } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { alerting, type Alert, type Rule } from "../api";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { useTimeRange } from "../timeRange";
import { formatDuration, formatTime } from "../time";
import { formatValue } from "../format";

/** Prometheus writes Go's zero time for "never". */
function evaluated(t: string | undefined): t is string {
  return !!t && !t.startsWith("0001-");
}

const STATE_COLOR: Record<string, string> = { firing: "red", pending: "yellow", inactive: "green" };
const HEALTH_COLOR: Record<string, string> = { ok: "green", err: "red", unknown: "gray" };

export default function Alerts() {
  const tr = useTimeRange();
  const [filter, setFilter] = useState("all");
  const rules = useQuery({ queryKey: ["rules", tr.tick], queryFn: ({ signal }) => alerting.rules(signal) });

  if (rules.isLoading) return <Loading what="rules" />;
  if (rules.error) return <ErrorNote error={rules.error} title="Could not read the rules" />;
  const groups = rules.data?.groups ?? [];
  const all = groups.flatMap((g) => g.rules);
  const count = (s: string) => all.filter((r) => r.type === "alerting" && r.state === s).length;
  const alerts = all.flatMap((r) => (r.alerts ?? []).map((a) => ({ rule: r, alert: a })));
  const shown = (r: Rule) => filter === "all" || (filter === "recording" ? r.type === "recording" : r.state === filter);

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={3}>Alerts & rules</Title>
        <Group gap="xs">
          <Badge color="red" variant="light" data-testid="firing-count">
            {count("firing")} firing
          </Badge>
          <Badge color="yellow" variant="light">
            {count("pending")} pending
          </Badge>
          <Badge color="green" variant="light">
            {count("inactive")} inactive
          </Badge>
        </Group>
      </Group>
      <Paper withBorder p="sm">
        <Text fw={600} size="sm" mb="xs">
          Active alerts
        </Text>
        {alerts.length === 0 ? (
          <Empty>No alert is pending or firing.</Empty>
        ) : (
          <Table.ScrollContainer minWidth={640}>
          <Table fz="sm" data-testid="active-alerts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Alert</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Since (UTC)</Table.Th>
                <Table.Th>Value</Table.Th>
                <Table.Th>Labels and annotations</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {alerts.map(({ rule, alert }, i) => (
                <AlertRow key={i} rule={rule} alert={alert} />
              ))}
            </Table.Tbody>
          </Table>
          </Table.ScrollContainer>
        )}
      </Paper>
      <Group justify="space-between">
        <Text fw={600} size="sm">
          Rule groups ({groups.length})
        </Text>
        <SegmentedControl
          size="xs"
          value={filter}
          onChange={setFilter}
          data={[
            { value: "all", label: "All" },
            { value: "firing", label: "Firing" },
            { value: "pending", label: "Pending" },
            { value: "inactive", label: "Inactive" },
            { value: "recording", label: "Recording" },
          ]}
        />
      </Group>
      {groups.length === 0 ? (
        <Empty>No rule files are loaded. List them under rule_files: (and SLOs under slo_files:) in the config.</Empty>
      ) : (
        <Accordion multiple variant="separated" defaultValue={groups.map((g) => `${g.file}/${g.name}`)} data-testid="rule-groups">
          {groups.map((g) => (
            <Accordion.Item key={`${g.file}/${g.name}`} value={`${g.file}/${g.name}`}>
              <Accordion.Control>
                <Group gap="xs">
                  <Text fw={600}>{g.name}</Text>
                  <Text size="xs" c="dimmed">
                    {g.file} · every {formatDuration(g.interval * 1000)}
                    {evaluated(g.lastEvaluation) ? ` · evaluated ${formatTime(Date.parse(g.lastEvaluation))}` : " · not evaluated yet"}
                  </Text>
                </Group>
              </Accordion.Control>
              <Accordion.Panel>
                <Table fz="sm" layout="fixed">
                  <Table.Tbody>
                    {g.rules.filter(shown).map((r) => (
                      <RuleRow key={r.name + r.query} rule={r} />
                    ))}
                  </Table.Tbody>
                </Table>
              </Accordion.Panel>
            </Accordion.Item>
          ))}
        </Accordion>
      )}
    </Stack>
  );
}

function exploreLink(rule: Rule): string {
  if (rule.lang === "logql") return `/logs?mode=logql&query=${encodeURIComponent(rule.query)}`;
  return `/explore?query=${encodeURIComponent(rule.query)}`;
}

function RuleRow({ rule }: { rule: Rule }) {
  return (
    <Table.Tr data-testid="rule-row">
      <Table.Td w="30%" style={{ verticalAlign: "top" }}>
        <Group gap={6}>
          <Text fw={600} size="sm">
            {rule.name}
          </Text>
          {rule.type === "alerting" ? (
            <Badge size="xs" color={STATE_COLOR[rule.state ?? "inactive"]}>
              {rule.state}
            </Badge>
          ) : (
            <Badge size="xs" variant="outline" color="gray">
              recording
            </Badge>
          )}
          <Badge size="xs" variant="light" color={HEALTH_COLOR[rule.health]}>
            {rule.health}
          </Badge>
        </Group>
        <Text size="xs" c="dimmed">
          {evaluated(rule.lastEvaluation) ? `last evaluated ${formatTime(Date.parse(rule.lastEvaluation))}` : "not evaluated yet"}
          {evaluated(rule.lastEvaluation) && rule.evaluationTime !== undefined && ` in ${formatDuration(rule.evaluationTime * 1000)}`}
          {rule.duration ? ` · for ${formatDuration(rule.duration * 1000)}` : ""}
        </Text>
        {rule.lastError && (
          <Text size="xs" c="red">
            {rule.lastError}
          </Text>
        )}
      </Table.Td>
      <Table.Td style={{ verticalAlign: "top" }}>
        <Code block style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
          {rule.query}
        </Code>
        <Anchor component={Link} to={exploreLink(rule)} size="xs">
          Open the query in {rule.lang === "logql" ? "Logs" : "Explore"}
        </Anchor>
        {rule.annotations?.summary && (
          <Text size="xs" mt={4}>
            {rule.annotations.summary}
          </Text>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function AlertRow({ rule, alert }: { rule: Rule; alert: Alert }) {
  return (
    <Table.Tr data-testid="alert-row">
      <Table.Td>
        <Anchor component={Link} to={exploreLink(rule)} fw={600} size="sm">
          {alert.labels.alertname ?? rule.name}
        </Anchor>
      </Table.Td>
      <Table.Td>
        <Badge color={STATE_COLOR[alert.state]}>{alert.state}</Badge>
      </Table.Td>
      <Table.Td className="lantern-mono">{alert.activeAt ? formatTime(Date.parse(alert.activeAt)) : "—"}</Table.Td>
      <Table.Td className="lantern-mono">{alert.value ? formatValue(Number(alert.value)) : ""}</Table.Td>
      <Table.Td>
        <Group gap={4}>
          {Object.entries(alert.labels)
            .filter(([k]) => k !== "alertname")
            .map(([k, v]) => (
              <Badge key={k} size="xs" variant="outline" color="gray" tt="none">
                {k}={v}
              </Badge>
            ))}
        </Group>
        {Object.entries(alert.annotations).map(([k, v]) => (
          <Text key={k} size="xs">
            <b>{k}:</b> {v}
          </Text>
        ))}
      </Table.Td>
    </Table.Tr>
  );
}
