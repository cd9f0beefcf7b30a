//! `/loki/api/v1/tail`: a WebSocket that first sends the entries since `start` (at most
//! `limit`, oldest first), then every new entry the log query selects as it is stored,
//! in Loki's tail frames (`{"streams": [...], "dropped_entries": null}`).

use std::collections::{BTreeMap, HashMap};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use lantern_logs::logql::engine::entry_of;
use lantern_logs::logql::pipeline::{Entry, Labels, Pipeline};
use lantern_logs::logql::{self, Answer};
use lantern_logs::Order;
use serde_json::json;

use crate::loki::{parse_loki_time, stream_json};
use crate::{now_ns, LogsApi};

fn frame(entries: Vec<Entry>) -> String {
    let mut streams: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    for e in entries {
        streams.entry(e.labels).or_default().push((e.time, e.line));
    }
    let streams: Vec<serde_json::Value> = streams.into_iter().map(|(l, v)| stream_json(l, v)).collect();
    json!({"streams": streams, "dropped_entries": null}).to_string()
}

pub(crate) async fn tail(
    State(api): State<LogsApi>,
    Query(p): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let bad = |m: String| lantern_http::error_response(lantern_http::ErrorKind::BadData, format!("{m}\n"));
    let Some(q) = p.get("query") else { return bad("query parameter is missing".into()) };
    let log = match lantern_logql::parse(q) {
        Ok(lantern_logql::Expr::Log(l)) => l,
        Ok(_) => return bad("tail needs a log query, not a metric query".into()),
        Err(e) => return bad(e.to_string()),
    };
    let pipe = match Pipeline::new(&log) {
        Ok(p) => p,
        Err(e) => return bad(e.to_string()),
    };
    let limit = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).min(5000);
    let store = match api.store() {
        Ok(s) => s,
        Err(e) => return (e.kind.status(), e.message).into_response(),
    };
    let now = now_ns(&store);
    let start = p.get("start").and_then(|s| parse_loki_time(s)).unwrap_or(now - 3_600_000_000_000);
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        // Subscribe first, so nothing stored after the look back is missed.
        let mut rx = store.subscribe();
        let expr = lantern_logql::Expr::Log(log);
        let lp = logql::Params { start, end: now + 1, step: 1, limit, direction: Order::Desc };
        if let Ok(Answer::Streams(s)) = logql::run(&store, &expr, &lp).await {
            let mut entries: Vec<Entry> = s
                .into_iter()
                .flat_map(|s| {
                    let labels = s.labels;
                    s.values.into_iter().map(move |(time, line)| Entry {
                        time,
                        labels: labels.clone(),
                        line,
                        value: None,
                    })
                })
                .collect();
            entries.sort_by_key(|e| e.time);
            if !entries.is_empty() && socket.send(Message::Text(frame(entries).into())).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                batch = rx.recv() => {
                    let Some(batch) = batch else { break };
                    let entries: Vec<Entry> = batch.iter().filter_map(|r| entry_of(&pipe, r)).collect();
                    if !entries.is_empty() && socket.send(Message::Text(frame(entries).into())).await.is_err() {
                        break;
                    }
                }
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                },
            }
        }
    })
}
