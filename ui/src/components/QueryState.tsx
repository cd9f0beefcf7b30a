// What a panel shows while its query runs, when it failed, and when there is nothing.
import type { ReactNode } from "react";
import { Alert, Button, Center, Group, Loader, Text } from "@mantine/core";

/** A spinner that says what is loading, with a cancel button for long queries. */
export function Loading({ what, onCancel }: { what: string; onCancel?: () => void }) {
  return (
    <Center p="md" data-testid="loading">
      <Group gap="sm">
        <Loader size="sm" />
        <Text size="sm" c="dimmed">
          Loading {what}…
        </Text>
        {onCancel && (
          <Button size="compact-xs" variant="subtle" onClick={onCancel}>
            Cancel
          </Button>
        )}
      </Group>
    </Center>
  );
}

/** Lantern's own error message, shown plainly. */
export function ErrorNote({ error, title = "Query failed" }: { error: unknown; title?: string }) {
  if (error instanceof DOMException && error.name === "AbortError") {
    return <Empty>The query was cancelled.</Empty>;
  }
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" title={title} data-testid="query-error" variant="light">
      <Text size="sm" className="lantern-mono" style={{ whiteSpace: "pre-wrap" }}>
        {msg}
      </Text>
    </Alert>
  );
}

/** An empty result, said in words rather than a blank area. */
export function Empty({ children }: { children?: ReactNode }) {
  return (
    <Center p="lg" data-testid="empty">
      <Text size="sm" c="dimmed">
        {children ?? "No data in this range."}
      </Text>
    </Center>
  );
}
