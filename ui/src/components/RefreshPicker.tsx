// Runs the page's queries again now, or every few seconds.
import { Button, Group, Select } from "@mantine/core";
import { useTimeRange } from "../timeRange";

const INTERVALS = ["", "5s", "10s", "30s", "1m", "5m", "15m"];

export function RefreshPicker() {
  const tr = useTimeRange();
  return (
    <Group gap={4} wrap="nowrap">
      <Button variant="default" size="xs" onClick={tr.refreshNow} aria-label="Refresh">
        ⟳
      </Button>
      <Select
        size="xs"
        w={84}
        aria-label="Auto-refresh"
        data={INTERVALS.map((v) => ({ value: v, label: v === "" ? "Off" : v }))}
        value={tr.refresh}
        onChange={(v) => tr.setRefresh(v ?? "")}
        allowDeselect={false}
        comboboxProps={{ withinPortal: true }}
      />
    </Group>
  );
}
