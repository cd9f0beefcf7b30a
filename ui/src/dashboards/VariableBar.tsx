// The dashboard's template variables as pickers; values live in the URL as `var-<name>`,
// as Grafana keeps them, so a link carries them.
import { Group, MultiSelect, Select, TextInput } from "@mantine/core";
import { ALL, type VariableModel } from "./model";
import type { Option } from "./variables";

export interface VariableState {
  v: VariableModel;
  options: Option[];
  values: string[];
}

export function VariableBar({ vars, onChange }: { vars: VariableState[]; onChange: (name: string, values: string[]) => void }) {
  const shown = vars.filter((s) => s.v.hide !== 2 && s.v.type !== "constant" && s.v.type !== "datasource");
  if (shown.length === 0) return null;
  return (
    <Group gap="sm" data-testid="variables">
      {shown.map(({ v, options, values }) => {
        const label = v.label || v.name;
        const data = [...(v.includeAll ? [{ value: ALL, label: "All" }] : []), ...options.map((o) => ({ value: o.value, label: o.text }))];
        // A value from the URL that the query does not list is kept and shown, as Grafana does.
        for (const val of values) {
          if (!data.some((d) => d.value === val)) data.push({ value: val, label: val === ALL ? "All" : val });
        }
        if (v.type === "textbox") {
          return (
            <TextInput
              key={v.name}
              size="xs"
              label={label}
              defaultValue={values[0] ?? ""}
              onKeyDown={(e) => e.key === "Enter" && onChange(v.name, [e.currentTarget.value])}
              onBlur={(e) => onChange(v.name, [e.currentTarget.value])}
            />
          );
        }
        if (v.multi) {
          return (
            <MultiSelect
              key={v.name}
              size="xs"
              label={label}
              data={data}
              value={values}
              onChange={(vals) => onChange(v.name, vals.length === 0 ? [] : vals.includes(ALL) && vals[vals.length - 1] === ALL ? [ALL] : vals.filter((x) => x !== ALL))}
              searchable
              maw={360}
              miw={160}
            />
          );
        }
        return (
          <Select
            key={v.name}
            size="xs"
            label={label}
            data={data}
            value={values[0] ?? null}
            onChange={(val) => val !== null && onChange(v.name, [val])}
            searchable
            allowDeselect={false}
            w={200}
          />
        );
      })}
    </Group>
  );
}
