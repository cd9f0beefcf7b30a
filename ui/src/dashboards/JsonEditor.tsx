// Editing a dashboard as JSON: Lantern checks it on save and names the path of every
// problem (`panels[2].targets[0].expr: …`).
import { useState } from "react";
import { Alert, Button, Group, Modal, Text, Textarea } from "@mantine/core";

export interface JsonEditorProps {
  opened: boolean;
  title: string;
  initial: string;
  saveLabel: string;
  onClose: () => void;
  /** Saves; a rejection's message is shown. */
  onSave: (json: unknown) => Promise<void>;
  note?: string;
}

export function JsonEditor({ opened, title, initial, saveLabel, onClose, onSave, note }: JsonEditorProps) {
  const [text, setText] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      setError(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSave(parsed);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={onClose} title={title} size="90%" data-testid="json-editor">
      {note && (
        <Text size="sm" c="dimmed" mb="xs">
          {note}
        </Text>
      )}
      <Textarea
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        autosize
        minRows={16}
        maxRows={28}
        styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: 12 } }}
        spellCheck={false}
        data-testid="json-text"
      />
      {error && (
        <Alert color="red" mt="xs" title="Not saved" data-testid="json-error">
          <Text size="sm" className="lantern-mono" style={{ whiteSpace: "pre-wrap" }}>
            {error}
          </Text>
        </Alert>
      )}
      <Group justify="flex-end" mt="sm">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button onClick={save} loading={busy} data-testid="json-save">
          {saveLabel}
        </Button>
      </Group>
    </Modal>
  );
}
