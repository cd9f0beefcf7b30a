// The query editor: CodeMirror 6 with PromQL (highlighting, autocomplete of metric and
// label names and values from Lantern, inline syntax errors) or LogQL. Enter runs the
// query, Shift+Enter adds a line. Loaded on demand (CodeMirror is its own chunk).
import { useEffect, useRef } from "react";
import { EditorState, Prec, type Extension } from "@codemirror/state";
import { EditorView, keymap, placeholder as placeholderExt } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, insertNewline } from "@codemirror/commands";
import { autocompletion, closeBrackets, completionKeymap, type CompletionContext } from "@codemirror/autocomplete";
import { bracketMatching, HighlightStyle, LRLanguage, syntaxHighlighting, syntaxTree } from "@codemirror/language";
import { lintKeymap, linter, type Diagnostic } from "@codemirror/lint";
import { styleTags, tags as t } from "@lezer/highlight";
import { PromQLExtension } from "@prometheus-io/codemirror-promql";
import { parser as logqlParser } from "@grafana/lezer-logql";
import { logs } from "../api";

export type QueryLanguage = "promql" | "logql" | "text";

export interface QueryEditorProps {
  value: string;
  onChange: (v: string) => void;
  onSubmit: (v: string) => void;
  language: QueryLanguage;
  placeholder?: string;
  /** Lookback for label autocompletion, in milliseconds. */
  lookback?: number;
}

const highlight = HighlightStyle.define([
  { tag: t.keyword, color: "#708" },
  { tag: [t.function(t.variableName), t.function(t.name)], color: "#0b6bcb" },
  { tag: [t.labelName, t.attributeName], color: "#7d4e00" },
  { tag: t.string, color: "#a11" },
  { tag: t.number, color: "#164" },
  { tag: t.operator, color: "#555" },
  { tag: t.comment, color: "#888", fontStyle: "italic" },
  { tag: t.variableName, color: "#1a1a1a", fontWeight: "600" },
]);

const logqlLanguage = LRLanguage.define({
  name: "logql",
  parser: logqlParser.configure({
    props: [
      styleTags({
        "Json Logfmt Unpack Pattern Regexp Unwrap LabelFormat LineFormat LabelReplace Decolorize Drop Keep": t.keyword,
        "By Without Bool On Ignoring GroupLeft GroupRight Offset And Or Unless": t.keyword,
        "Sum Avg Count Max Min Stddev Stdvar Bottomk Topk Sort Sort_Desc": t.function(t.name),
        "CountOverTime Rate RateCounter BytesOverTime BytesRate AvgOverTime SumOverTime MinOverTime MaxOverTime":
          t.function(t.name),
        "StddevOverTime StdvarOverTime QuantileOverTime FirstOverTime LastOverTime AbsentOverTime": t.function(t.name),
        Identifier: t.labelName,
        String: t.string,
        "Number Duration Bytes": t.number,
        LineComment: t.comment,
        "Eq Neq Re Nre PipeExact PipeMatch PipePattern Npa Pipe Gtr Gte Lss Lte Eql Add Sub Mul Div Mod Pow": t.operator,
      }),
    ],
  }),
  languageData: { closeBrackets: { brackets: ["(", "[", "{", '"', "`"] } },
});

/** Inline syntax errors for LogQL, from the grammar's error nodes. */
const logqlLint = linter((view) => {
  const out: Diagnostic[] = [];
  syntaxTree(view.state).iterate({
    enter: (n) => {
      if (n.type.isError && out.length < 3) {
        out.push({ from: n.from, to: Math.max(n.to, n.from + 1), severity: "error", message: "LogQL syntax error" });
      }
    },
  });
  return out;
});

/** Label names after `{` and `,`; values after `label=` inside a selector. */
function logqlCompletion(lookback: number) {
  return async (ctx: CompletionContext) => {
    const before = ctx.state.sliceDoc(Math.max(0, ctx.pos - 200), ctx.pos);
    const open = before.lastIndexOf("{");
    if (open < 0 || before.lastIndexOf("}") > open) return null;
    const now = Date.now();
    const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(before);
    if (value) {
      const values = await logs.lokiLabelValues(value[1], now - lookback, now).catch(() => [] as string[]);
      return { from: ctx.pos - value[3].length, options: values.map((v) => ({ label: v, type: "text" })) };
    }
    const name = /[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(before);
    if (!name) return null;
    const names = await logs.lokiLabels(now - lookback, now).catch(() => [] as string[]);
    return { from: ctx.pos - (name[1]?.length ?? 0), options: names.map((n) => ({ label: n, type: "property" })) };
  };
}

function languageExtension(language: QueryLanguage, lookback: number): Extension {
  if (language === "promql") {
    return new PromQLExtension()
      .setComplete({ remote: { url: window.location.origin, lookbackInterval: lookback, httpMethod: "GET" } })
      .asExtension();
  }
  if (language === "logql") {
    return [logqlLanguage, logqlLint, autocompletion({ override: [logqlCompletion(lookback)] })];
  }
  return [];
}

export default function QueryEditor(props: QueryEditorProps) {
  const { value, language, placeholder, lookback = 12 * 3_600_000 } = props;
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  useEffect(() => {
    latest.current = props;
  });

  useEffect(() => {
    if (!host.current) return;
    const submit = Prec.highest(
      keymap.of([
        {
          key: "Enter",
          run: (v) => {
            latest.current.onSubmit(v.state.doc.toString());
            return true;
          },
        },
        { key: "Shift-Enter", run: insertNewline },
      ]),
    );
    const state = EditorState.create({
      doc: latest.current.value,
      extensions: [
        submit,
        history(),
        closeBrackets(),
        bracketMatching(),
        language === "promql" ? [] : autocompletion(),
        syntaxHighlighting(highlight),
        keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        placeholderExt(placeholder ?? ""),
        EditorView.lineWrapping,
        languageExtension(language, lookback),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) latest.current.onChange(u.state.doc.toString());
        }),
      ],
    });
    const v = new EditorView({ state, parent: host.current });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
  }, [language, placeholder, lookback]);

  // A value changed from outside (a link, a click on a field) replaces the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div ref={host} className="lantern-editor" data-testid={`editor-${language}`} />;
}
