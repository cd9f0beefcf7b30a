// table panels: the instant value of every metric query, one row per series.
import { ScrollArea, Table } from "@mantine/core";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { formatValue } from "../../format";
import { unitOf, type Panel } from "../model";
import type { PanelContext } from "./context";
import { useInstantRows } from "./usePanelData";

export function TablePanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const data = useInstantRows(panel, ctx);
  if (data.isLoading) return <Loading what="rows" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (!data.data || data.data.rows.length === 0) return <Empty />;
  const labelCols = [...new Set(data.data.rows.flatMap((r) => Object.keys(r.labels)))].filter((k) => k !== "__name__");
  const hasName = data.data.rows.some((r) => r.labels.__name__);
  const cols = hasName ? ["__name__", ...labelCols] : labelCols;
  return (
    <ScrollArea h={height - 8}>
      <Table fz="xs" striped stickyHeader data-testid="table-panel">
        <Table.Thead>
          <Table.Tr>
            {cols.map((c) => (
              <Table.Th key={c}>{c === "__name__" ? "metric" : c}</Table.Th>
            ))}
            {data.data.columns.map((c) => (
              <Table.Th key={c} ta="right">
                {c}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data.data.rows.map((r, i) => (
            <Table.Tr key={i}>
              {cols.map((c) => (
                <Table.Td key={c}>{r.labels[c] ?? ""}</Table.Td>
              ))}
              {data.data.columns.map((c) => (
                <Table.Td key={c} ta="right" className="lantern-mono">
                  {formatValue(r.values[c] ?? null, unitOf(panel))}
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}
