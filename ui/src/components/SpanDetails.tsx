// One span in full: timing, status, attributes, events, links and its resource.
import { Anchor, Badge, Button, Group, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import type { JaegerProcess, JaegerTag } from "../api";
import type { SpanNode } from "../traceModel";
import { formatDuration, formatTimeMs } from "../time";
import { colorForName } from "./palette";

export interface SpanDetailsProps {
  node: SpanNode;
  process?: JaegerProcess;
  selfTimeNs?: number;
  criticalNs?: number;
  /** Links for the span's service: its overview dashboard with the trace's time around it. */
  serviceLink: string;
  exploreLink: string;
}

function TagTable({ tags, testid }: { tags: JaegerTag[]; testid?: string }) {
  if (tags.length === 0) return <Text size="xs" c="dimmed">none</Text>;
  return (
    <Table fz="xs" verticalSpacing={1} withRowBorders={false} data-testid={testid}>
      <Table.Tbody>
        {tags.map((t, i) => (
          <Table.Tr key={`${t.key}-${i}`}>
            <Table.Td fw={600} w="40%" style={{ wordBreak: "break-all" }}>
              {t.key}
            </Table.Td>
            <Table.Td className="lantern-mono" style={{ wordBreak: "break-all" }}>
              {String(t.value)}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

const HIDDEN = new Set(["span.kind", "otel.status_code", "otel.status_description", "error", "internal.span.format"]);

export function SpanDetails({ node, process, selfTimeNs, criticalNs, serviceLink, exploreLink }: SpanDetailsProps) {
  const s = node.span;
  const status = s.tags.find((t) => t.key === "otel.status_code")?.value ?? (node.error ? "ERROR" : "UNSET");
  const description = s.tags.find((t) => t.key === "otel.status_description")?.value;
  const links = s.references.filter((r) => r.refType !== "CHILD_OF" || r.spanID !== node.parentId);
  return (
    <Stack gap="xs" data-testid="span-details">
      <Group gap="xs">
        <span style={{ width: 10, height: 10, borderRadius: 5, background: colorForName(node.service) }} />
        <Title order={5}>{s.operationName}</Title>
      </Group>
      <Text size="sm">
        <b>{node.service}</b> · {node.kind || "internal"} · {formatDuration(s.duration / 1000)}
        {selfTimeNs !== undefined && ` (self ${formatDuration(selfTimeNs / 1e6)})`}
      </Text>
      <Group gap="xs">
        <Badge color={status === "ERROR" ? "red" : status === "OK" ? "green" : "gray"} data-testid="span-status">
          status {String(status)}
        </Badge>
        {criticalNs !== undefined && criticalNs > 0 && (
          <Badge variant="light" color="orange">
            {formatDuration(criticalNs / 1e6)} on the critical path
          </Badge>
        )}
      </Group>
      {description && (
        <Text size="sm" c="red.8">
          {String(description)}
        </Text>
      )}
      <Text size="xs" c="dimmed" className="lantern-mono">
        span {s.spanID} · started {formatTimeMs(s.startTime / 1000)}
      </Text>
      <Group gap="xs">
        <Button component={Link} to={serviceLink} size="xs" variant="light" data-testid="service-saturation">
          {node.service}: golden signals & saturation
        </Button>
        <Button component={Link} to={exploreLink} size="xs" variant="default">
          Explore its metrics
        </Button>
      </Group>
      <Text size="sm" fw={600}>
        Attributes
      </Text>
      <TagTable tags={s.tags.filter((t) => !HIDDEN.has(t.key))} testid="span-attributes" />
      <Text size="sm" fw={600}>
        Events ({s.logs.length})
      </Text>
      {s.logs.length === 0 ? (
        <Text size="xs" c="dimmed">none</Text>
      ) : (
        s.logs.map((l, i) => (
          <div key={i}>
            <Text size="xs" c="dimmed">
              +{formatDuration((l.timestamp - s.startTime) / 1000)}
            </Text>
            <TagTable tags={l.fields} />
          </div>
        ))
      )}
      <Text size="sm" fw={600}>
        Links ({links.length})
      </Text>
      {links.length === 0 ? (
        <Text size="xs" c="dimmed">none</Text>
      ) : (
        links.map((r, i) => (
          <Anchor key={i} component={Link} to={`/traces/${r.traceID}`} size="xs" className="lantern-mono">
            {r.refType} {r.traceID.slice(0, 16)}… / {r.spanID}
          </Anchor>
        ))
      )}
      <Text size="sm" fw={600}>
        Resource
      </Text>
      <TagTable tags={[{ key: "service.name", type: "string", value: node.service }, ...(process?.tags ?? [])]} />
    </Stack>
  );
}
