// text panels: the content as written (markdown and HTML are shown as plain text).
import { ScrollArea, Text } from "@mantine/core";
import type { Panel } from "../model";

export function TextPanel({ panel, height }: { panel: Panel; height: number }) {
  const options = panel.options as { content?: string } | undefined;
  const content = options?.content ?? panel.content ?? "";
  return (
    <ScrollArea h={height - 8}>
      <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
        {content}
      </Text>
    </ScrollArea>
  );
}
