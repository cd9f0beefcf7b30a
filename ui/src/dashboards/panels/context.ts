// What every panel needs to run its queries: the dashboard, its variables' values and
// the time range.
import type { Dashboard, VarValues, VariableModel } from "../model";

export interface PanelContext {
  dash: Dashboard;
  vars: VariableModel[];
  values: VarValues;
  start: number;
  end: number;
  tick: number;
  onZoom: (start: number, end: number) => void;
}
