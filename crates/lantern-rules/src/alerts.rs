//! The state of an alerting rule, as Prometheus keeps it: each label set the expression
//! returns is an alert that is pending, then firing once it has been active for the
//! rule's `for`; it keeps firing `keep_firing_for` after the expression stops returning
//! it, is then resolved, and resolved alerts are kept 15 minutes (so notifiers send the
//! resolution). Each evaluation also gives the `ALERTS` and `ALERTS_FOR_STATE` series
//! to write. Pure: the caller evaluates the expression and passes the clock.

use std::collections::BTreeMap;

/// How long resolved alerts are kept (Prometheus's `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Active for less than `for`.
    Pending,
    /// Active for `for` or longer.
    Firing,
    /// No longer active (kept for a while).
    Inactive,
}

impl State {
    /// The name Prometheus's APIs and the `alertstate` label use.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
            State::Inactive => "inactive",
        }
    }
}

/// Labels, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// One alert of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's labels: the expression's result, the rule's labels, `alertname`.
    pub labels: LabelSet,
    /// Its annotations, as expanded at the last evaluation it was active.
    pub annotations: LabelSet,
    /// Its state.
    pub state: State,
    /// The expression's value at the last evaluation it was active.
    pub value: f64,
    /// When it became active (ms).
    pub active_at: i64,
    /// When it started firing (ms), if it did.
    pub fired_at: Option<i64>,
    /// When it was resolved (ms), if it was.
    pub resolved_at: Option<i64>,
    /// The last evaluation that found it active (ms).
    pub last_seen: i64,
    /// The first evaluation that no longer found a firing alert active (ms): it keeps
    /// firing until `keep_firing_for` has passed since.
    pub keep_firing_since: Option<i64>,
    /// When it was last sent to notifiers (ms).
    pub last_sent: Option<i64>,
    /// Until when the last notification holds it active (ms): its `endsAt` while firing.
    pub valid_until: i64,
}

/// The alerts of one alerting rule.
#[derive(Debug, Clone, Default)]
pub struct AlertState {
    alerts: BTreeMap<LabelSet, Alert>,
}

/// A series an evaluation writes: labels and value.
pub type Output = (LabelSet, f64);

/// A label set the expression returned, ready to be an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    /// Labels (rule labels and `alertname` applied).
    pub labels: LabelSet,
    /// Expanded annotations.
    pub annotations: LabelSet,
    /// The expression's value.
    pub value: f64,
}

impl AlertState {
    /// Applies one evaluation at `now` (ms): `active` holds each label set the
    /// expression returned. Returns the `ALERTS` and `ALERTS_FOR_STATE` series for `now`.
    pub fn update(&mut self, active: Vec<Active>, now: i64, for_ms: i64, keep_firing_for_ms: i64) -> Vec<Output> {
        let mut seen = std::collections::BTreeSet::new();
        for Active { labels, annotations, value } in active {
            seen.insert(labels.clone());
            let a = self.alerts.entry(labels.clone()).or_insert(Alert {
                labels,
                annotations: LabelSet::new(),
                state: State::Pending,
                value,
                active_at: now,
                fired_at: None,
                resolved_at: None,
                last_seen: now,
                keep_firing_since: None,
                last_sent: None,
                valid_until: 0,
            });
            if a.state == State::Inactive {
                // Active again after being resolved: a new alert.
                *a = Alert { state: State::Pending, active_at: now, fired_at: None, resolved_at: None, ..a.clone() };
            }
            a.value = value;
            a.annotations = annotations;
            a.last_seen = now;
            a.keep_firing_since = None;
            if a.state == State::Pending && now - a.active_at >= for_ms {
                a.state = State::Firing;
                a.fired_at = Some(now);
            }
        }
        self.alerts.retain(|labels, a| {
            if seen.contains(labels) {
                return true;
            }
            match a.state {
                // A pending alert that is no longer active is simply forgotten.
                State::Pending => false,
                State::Firing
                    if keep_firing_for_ms > 0 && now - *a.keep_firing_since.get_or_insert(now) < keep_firing_for_ms =>
                {
                    true
                }
                State::Firing => {
                    a.state = State::Inactive;
                    a.resolved_at = Some(now);
                    true
                }
                State::Inactive => a.resolved_at.is_some_and(|r| now - r < RESOLVED_RETENTION_MS),
            }
        });
        let mut out = Vec::new();
        for a in self.alerts.values().filter(|a| a.state != State::Inactive) {
            let mut l = a.labels.clone();
            l.insert("__name__".into(), "ALERTS".into());
            l.insert("alertstate".into(), a.state.name().into());
            out.push((l, 1.0));
            let mut l = a.labels.clone();
            l.insert("__name__".into(), "ALERTS_FOR_STATE".into());
            out.push((l, a.active_at as f64 / 1000.0));
        }
        out
    }

    /// Alerts to send to notifiers at `now`, as Prometheus decides: a firing alert
    /// again every `resend_delay_ms`, a resolved one once after it resolved; pending
    /// alerts never. Marks them sent, valid for four resend periods (or evaluation
    /// intervals, if longer).
    pub fn due(&mut self, now: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.alerts.values_mut() {
            let needs = match (a.state, a.last_sent) {
                (State::Pending, _) => false,
                (_, None) => true,
                (_, Some(sent)) => a.resolved_at.is_some_and(|r| r > sent) || sent + resend_delay_ms < now,
            };
            if needs {
                a.last_sent = Some(now);
                a.valid_until = now + 4 * resend_delay_ms.max(interval_ms);
                out.push(a.clone());
            }
        }
        out
    }

    /// Every alert kept (pending, firing, and resolved within the retention).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Sets the activity time of a pending alert to the one it had before a restart
    /// (from `ALERTS_FOR_STATE`), so `for` counts from when it really began. Whether
    /// it fires is decided at the next evaluation, as for any alert.
    pub fn restore(&mut self, labels: &LabelSet, active_at: i64) -> bool {
        match self.alerts.get_mut(labels) {
            Some(a) if a.state == State::Pending => {
                a.active_at = active_at;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn act(labels: &LabelSet, value: f64) -> Active {
        Active { labels: labels.clone(), annotations: LabelSet::new(), value }
    }

    fn states(s: &AlertState) -> Vec<(String, &'static str)> {
        s.alerts().map(|a| (a.labels["instance"].clone(), a.state.name())).collect()
    }

    #[test]
    fn pending_then_firing_then_resolved_and_kept() {
        let mut s = AlertState::default();
        let a = ls(&[("alertname", "HighErrorRate"), ("instance", "a")]);
        let m = 60_000;
        // for: 5m, evaluated every minute.
        let out = s.update(vec![act(&a, 0.02)], 0, 5 * m, 0);
        assert_eq!(states(&s), [("a".into(), "pending")]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0["alertstate"], "pending");
        assert_eq!(
            out[1],
            (ls(&[("__name__", "ALERTS_FOR_STATE"), ("alertname", "HighErrorRate"), ("instance", "a")]), 0.0)
        );
        for t in 1..5 {
            s.update(vec![act(&a, 0.02)], t * m, 5 * m, 0);
            assert_eq!(states(&s), [("a".into(), "pending")], "minute {t}");
        }
        let out = s.update(vec![act(&a, 0.03)], 5 * m, 5 * m, 0);
        assert_eq!(states(&s), [("a".into(), "firing")]);
        assert_eq!(out[0].0["alertstate"], "firing");
        assert_eq!(s.alerts().next().unwrap().fired_at, Some(5 * m));
        // The condition clears: resolved, no ALERTS series, kept 15 minutes.
        let out = s.update(vec![], 6 * m, 5 * m, 0);
        assert!(out.is_empty());
        assert_eq!(states(&s), [("a".into(), "inactive")]);
        assert_eq!(s.alerts().next().unwrap().resolved_at, Some(6 * m));
        s.update(vec![], 20 * m, 5 * m, 0);
        assert_eq!(states(&s).len(), 1);
        s.update(vec![], 21 * m, 5 * m, 0);
        assert!(states(&s).is_empty());
    }

    #[test]
    fn alerts_are_sent_when_firing_again_every_resend_delay_and_once_resolved() {
        let m = 60_000;
        let mut s = AlertState::default();
        let a = ls(&[("alertname", "X"), ("instance", "a")]);
        s.update(vec![act(&a, 1.0)], 0, m, 0);
        assert!(s.due(0, m, m).is_empty(), "pending alerts are not sent");
        s.update(vec![act(&a, 1.0)], m, m, 0);
        let sent = s.due(m, m, m);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].valid_until, 5 * m);
        s.update(vec![act(&a, 1.0)], 2 * m, m, 0);
        assert!(s.due(2 * m, m, m).is_empty(), "not again within the resend delay");
        s.update(vec![act(&a, 1.0)], 3 * m, m, 0);
        assert_eq!(s.due(3 * m, m, m).len(), 1);
        s.update(vec![], 3 * m + 1000, m, 0);
        let sent = s.due(3 * m + 1000, m, m);
        assert_eq!(sent[0].state, State::Inactive, "the resolution is sent at once");
        assert!(s.due(3 * m + 2000, m, m).is_empty());
    }

    #[test]
    fn pending_alerts_are_dropped_keep_firing_for_holds_and_restore_counts_from_the_start() {
        let m = 60_000;
        let mut s = AlertState::default();
        let a = ls(&[("alertname", "X"), ("instance", "a")]);
        s.update(vec![act(&a, 1.0)], 0, 5 * m, 0);
        s.update(vec![], m, 5 * m, 0);
        assert!(states(&s).is_empty(), "a pending alert that clears is forgotten");
        // for: 0 fires at once; keep_firing_for: 2m holds it for 2m after the first
        // evaluation that no longer finds it.
        s.update(vec![act(&a, 1.0)], 0, 0, 2 * m);
        assert_eq!(states(&s), [("a".into(), "firing")]);
        for t in [1, 2] {
            s.update(vec![], t * m, 0, 2 * m);
            assert_eq!(states(&s), [("a".into(), "firing")], "minute {t}");
        }
        s.update(vec![], 3 * m, 0, 2 * m);
        assert_eq!(states(&s), [("a".into(), "inactive")]);
        // After a restart, the activity time comes back from ALERTS_FOR_STATE.
        let mut s = AlertState::default();
        s.update(vec![act(&a, 1.0)], 3 * m, 5 * m, 0);
        assert!(s.restore(&a, 0));
        assert_eq!(states(&s), [("a".into(), "pending")]);
        s.update(vec![act(&a, 1.0)], 5 * m, 5 * m, 0);
        assert_eq!(states(&s), [("a".into(), "firing")], "for counted from the original activity");
    }
}
