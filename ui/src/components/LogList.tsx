// Log lines, newest first: time, level, service and message on one row; a click opens
// every field, with buttons to filter by a value or leave it out, and links to the line's
// trace and to every line of its request.
import { Fragment, useState } from "react";
import { ActionIcon, Anchor, Badge, Group, Table, Text, Tooltip } from "@mantine/core";
import { Link } from "react-router";
import type { LogHit } from "../api";
import { LEVEL_COLORS, colorForName } from "./palette";
import { extraFields } from "../logsQuery";

export interface LogListProps {
  hits: LogHit[];
  /** Adds `field = value` (or `!=`) to the query. */
  onFilter?: (field: string, value: string, exclude: boolean) => void;
  /** Shows every line carrying this request ID. */
  requestLink?: (requestId: string) => string;
  /** The line whose span is selected (trace view). */
  highlightSpan?: string;
  onLineClick?: (hit: LogHit) => void;
  compact?: boolean;
}

/** Identifier fields a line may carry its request under. */
export const REQUEST_FIELDS = ["request_id", "requestId", "correlation_id", "x_request_id"];

function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function timeOf(hit: LogHit): string {
  return hit.timestamp.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1").replace("Z", "");
}

export function LogList({ hits, onFilter, requestLink, highlightSpan, onLineClick, compact }: LogListProps) {
  const [open, setOpen] = useState<Set<number>>(new Set());
  const toggle = (i: number) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(i)) n.delete(i);
      else n.add(i);
      return n;
    });
  return (
    <Table verticalSpacing={2} fz="xs" data-testid="log-lines" layout="fixed">
      <Table.Thead>
        <Table.Tr>
          <Table.Th w={190}>Time (UTC)</Table.Th>
          <Table.Th w={76}>Level</Table.Th>
          <Table.Th w={compact ? 110 : 150}>Service</Table.Th>
          <Table.Th>Message</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {hits.map((hit, i) => {
          const level = String(hit.level ?? "");
          const isOpen = open.has(i);
          const selected = highlightSpan && hit.span_id === highlightSpan;
          return (
            <Fragment key={i}>
              <Table.Tr
                className="lantern-log-row"
                data-testid="log-row"
                onClick={() => {
                  toggle(i);
                  onLineClick?.(hit);
                }}
                bg={selected ? "var(--mantine-color-orange-0)" : undefined}
              >
                <Table.Td className="lantern-mono" style={{ whiteSpace: "nowrap" }}>
                  {timeOf(hit)}
                </Table.Td>
                <Table.Td>
                  {level && (
                    <Badge size="xs" variant="filled" color={LEVEL_COLORS[level.toLowerCase()] ?? "gray"}>
                      {level}
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
                  {hit.service && (
                    <Text span size="xs" c={colorForName(String(hit.service))} fw={600}>
                      {String(hit.service)}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td
                  className="lantern-mono"
                  style={{ whiteSpace: isOpen ? "pre-wrap" : "nowrap", overflow: "hidden", textOverflow: "ellipsis" }}
                >
                  {hit.message}
                  {!isOpen && <Summary hit={hit} />}
                </Table.Td>
              </Table.Tr>
              {isOpen && (
                <Table.Tr>
                  <Table.Td colSpan={4} bg="var(--mantine-color-gray-0)">
                    <Fields hit={hit} onFilter={onFilter} requestLink={requestLink} />
                  </Table.Td>
                </Table.Tr>
              )}
            </Fragment>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

/** A few fields after the message, greyed, as Grafana shows them. */
function Summary({ hit }: { hit: LogHit }) {
  const shown = extraFields(hit)
    .filter(([k, v]) => !["level", "service", "logger"].includes(k) && v !== hit.message)
    .slice(0, 6)
    .map(([k, v]) => `${k}=${text(v)}`)
    .join(" ");
  return shown ? <Text span c="dimmed" size="xs" ml="sm">{shown}</Text> : null;
}

function Fields({ hit, onFilter, requestLink }: Pick<LogListProps, "onFilter" | "requestLink"> & { hit: LogHit }) {
  const fields = extraFields(hit);
  const traceId = hit.trace_id ? String(hit.trace_id) : "";
  const requestId = REQUEST_FIELDS.map((f) => hit[f]).find((v) => typeof v === "string") as string | undefined;
  return (
    <div data-testid="log-fields">
      <Group gap="md" mb={4}>
        {traceId && (
          <Anchor component={Link} to={`/traces/${traceId}`} size="xs" data-testid="log-trace-link">
            Open trace {traceId.slice(0, 16)}…
          </Anchor>
        )}
        {requestId && requestLink && (
          <Anchor component={Link} to={requestLink(requestId)} size="xs" data-testid="log-request-link">
            Every line of request {requestId}
          </Anchor>
        )}
      </Group>
      <Table fz="xs" verticalSpacing={0} withRowBorders={false}>
        <Table.Tbody>
          {fields.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Td w={40} style={{ whiteSpace: "nowrap" }}>
                {onFilter && (
                  <Group gap={2} wrap="nowrap">
                    <Tooltip label={`Only lines where ${k} is this`}>
                      <ActionIcon
                        size="xs"
                        variant="subtle"
                        aria-label={`filter ${k}`}
                        data-testid={`filter-${k}`}
                        onClick={() => onFilter(k, text(v), false)}
                      >
                        ⊕
                      </ActionIcon>
                    </Tooltip>
                    <Tooltip label={`Leave out lines where ${k} is this`}>
                      <ActionIcon size="xs" variant="subtle" aria-label={`exclude ${k}`} onClick={() => onFilter(k, text(v), true)}>
                        ⊖
                      </ActionIcon>
                    </Tooltip>
                  </Group>
                )}
              </Table.Td>
              <Table.Td w={180} fw={600} style={{ whiteSpace: "nowrap" }}>
                {k}
              </Table.Td>
              <Table.Td className="lantern-mono" style={{ wordBreak: "break-all" }}>
                {onFilter ? (
                  <Anchor size="xs" component="button" onClick={() => onFilter(k, text(v), false)} className="lantern-mono">
                    {text(v)}
                  </Anchor>
                ) : (
                  text(v)
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </div>
  );
}
