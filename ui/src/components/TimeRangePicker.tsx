// Relative ("Last 1 hour") and absolute ranges, as Grafana's picker offers them.
import { useState } from "react";
import { Button, Divider, Group, Popover, SimpleGrid, Stack, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useTimeRange } from "../timeRange";
import { describeRange, formatTime, parseTime } from "../time";

const QUICK = [
  ["now-5m", "Last 5 minutes"],
  ["now-15m", "Last 15 minutes"],
  ["now-30m", "Last 30 minutes"],
  ["now-1h", "Last 1 hour"],
  ["now-3h", "Last 3 hours"],
  ["now-6h", "Last 6 hours"],
  ["now-12h", "Last 12 hours"],
  ["now-24h", "Last 24 hours"],
  ["now-2d", "Last 2 days"],
  ["now-7d", "Last 7 days"],
  ["now-30d", "Last 30 days"],
] as const;

export function TimeRangePicker() {
  const tr = useTimeRange();
  const [opened, setOpened] = useState(false);
  const [from, setFrom] = useState(tr.from);
  const [to, setTo] = useState(tr.to);
  // Only whether the text reads as a time matters here, not when "now" is.
  const now = tr.end;
  const fromErr = parseTime(from, now) === null ? "not a time" : null;
  const toErr = parseTime(to, now) === null ? "not a time" : null;
  const order =
    !fromErr && !toErr && (parseTime(from, now) ?? 0) >= (parseTime(to, now) ?? 0) ? "“From” must be before “To”" : null;

  const open = () => {
    setFrom(tr.from.startsWith("now") ? tr.from : formatTime(tr.start));
    setTo(tr.to.startsWith("now") ? tr.to : formatTime(tr.end));
    setOpened(true);
  };
  const apply = (f: string, t: string) => {
    tr.setRange(f, t);
    setOpened(false);
  };
  const shift = (dir: -1 | 1) => {
    const span = tr.end - tr.start;
    tr.setRange(new Date(tr.start + dir * span).toISOString(), new Date(tr.end + dir * span).toISOString());
  };

  return (
    <Group gap={4} wrap="nowrap">
      <Button variant="default" size="xs" onClick={() => shift(-1)} aria-label="Earlier" px={8}>
        ‹
      </Button>
      <Popover opened={opened} onChange={setOpened} position="bottom-end" shadow="md" width={520}>
        <Popover.Target>
          <Button variant="default" size="xs" onClick={() => (opened ? setOpened(false) : open())} data-testid="time-range">
            {describeRange(tr.from, tr.to)}
          </Button>
        </Popover.Target>
        <Popover.Dropdown>
          <SimpleGrid cols={2} spacing="md">
            <Stack gap="xs">
              <Text size="sm" fw={600}>
                Absolute or relative range
              </Text>
              <TextInput
                size="xs"
                label="From"
                value={from}
                error={fromErr}
                onChange={(e) => setFrom(e.currentTarget.value)}
                description="now-1h, 2026-02-11 14:30:00 (UTC)"
              />
              <TextInput size="xs" label="To" value={to} error={toErr ?? order} onChange={(e) => setTo(e.currentTarget.value)} />
              <Button size="xs" disabled={!!(fromErr || toErr || order)} onClick={() => apply(from.trim(), to.trim())}>
                Apply time range
              </Button>
            </Stack>
            <Stack gap={2}>
              <Text size="sm" fw={600}>
                Quick ranges
              </Text>
              <Divider />
              {QUICK.map(([f, label]) => (
                <UnstyledButton
                  key={f}
                  onClick={() => apply(f, "now")}
                  fz="sm"
                  px={4}
                  py={2}
                  fw={tr.from === f && tr.to === "now" ? 700 : 400}
                >
                  {label}
                </UnstyledButton>
              ))}
            </Stack>
          </SimpleGrid>
        </Popover.Dropdown>
      </Popover>
      <Button variant="default" size="xs" onClick={() => shift(1)} aria-label="Later" px={8}>
        ›
      </Button>
    </Group>
  );
}
