//! The demo's simulated shop: `api-gateway` → `order-service` → `payment-service` and
//! `fulfillment-service`, instrumented as the seed instruments its Flask service. Each
//! order becomes the spans the OpenTelemetry SDK would record (the Flask server spans,
//! the requests client spans, the seed's manual `create_order`, `validate_order`,
//! `process_payment` and `create_fulfillment`), the structlog lines the seed's
//! configuration renders (bound `request_id`, `trace_id`, `user_id`), and the seed's
//! `prometheus_client` metrics per service: `http_requests_total{method,endpoint,status}`,
//! `http_request_duration_seconds` with the seed's buckets and a `trace_id` exemplar,
//! `active_connections`, plus the saturation gauges the seed's dashboard divides.
//!
//! Orders are recorded, not slept: each is laid out backwards from the time it ends, so
//! the same model writes an hour of history in a second and the live traffic after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lantern_traces::model::hex;

/// The services, in call order.
pub const SERVICES: [&str; 4] = ["api-gateway", "order-service", "payment-service", "fulfillment-service"];
const GATEWAY: usize = 0;
const ORDERS: usize = 1;
const PAYMENT: usize = 2;
const FULFILLMENT: usize = 3;

/// The seed's histogram buckets (upper bounds, seconds), as OpenMetrics writes them.
const BUCKETS: [(f64, &str); 9] = [
    (0.01, "0.01"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (1.0, "1.0"),
    (2.5, "2.5"),
    (5.0, "5.0"),
    (10.0, "10.0"),
];

/// Each service's one endpoint: method, the `endpoint` label, the server span's name.
const ENDPOINTS: [(&str, &str, &str); 4] = [
    ("POST", "/api/orders", "POST /api/orders"),
    ("POST", "/orders", "POST /orders"),
    ("POST", "/charge", "POST /charge"),
    ("POST", "/shipments", "POST /shipments"),
];

/// A small, fast generator (xorshift*); the demo needs variety, not cryptography.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and the process, so two demos draw different IDs.
    pub fn from_time() -> Rng {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Rng((t ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One span, as an OTLP span needs it.
#[derive(Debug, Clone)]
pub struct Span {
    /// Index into [`SERVICES`].
    pub service: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: &'static str,
    /// OTLP's span kind: 1 internal, 2 server, 3 client.
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(&'static str, Value)>,
    /// The error status's message, for a failed span.
    pub error: Option<&'static str>,
    /// An `exception` event: type and message.
    pub exception: Option<(&'static str, &'static str)>,
}

/// An attribute's value.
#[derive(Debug, Clone)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
}

/// One structlog line of one service.
#[derive(Debug, Clone)]
pub struct Line {
    pub service: usize,
    pub json: String,
}

/// What one order left behind.
#[derive(Debug, Default)]
pub struct Order {
    pub spans: Vec<Span>,
    pub lines: Vec<Line>,
    pub failed: bool,
}

/// A classic histogram with the newest exemplar per bucket.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations per bucket, not cumulative; the last is `+Inf`.
    counts: [u64; 10],
    sum: f64,
    exemplars: [Option<(String, f64, f64)>; 10],
}

/// One service's metrics, as its `prometheus_client` registry holds them.
#[derive(Debug, Clone, Default)]
struct Metrics {
    requests: BTreeMap<u16, u64>,
    duration: Histogram,
    active_connections: f64,
    cpu: f64,
    memory: f64,
    queue_depth: f64,
}

/// One sample of a family: the series' name, its labels (beside job and instance), the
/// value and, for a bucket, its exemplar (trace ID, value, Unix seconds).
pub struct Sample<'a> {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
    pub exemplar: Option<&'a (String, f64, f64)>,
}

/// The shop's state: every service's metrics and the incident's intensity.
pub struct Shop {
    rng: Rng,
    metrics: [Metrics; 4],
}

const MEMORY_LIMIT: f64 = 512.0 * 1024.0 * 1024.0;

impl Shop {
    pub fn new(rng: Rng) -> Shop {
        Shop { rng, metrics: Default::default() }
    }

    /// Sets the saturation gauges for an incident of intensity `load` (0 calm … 1
    /// payment-service saturated).
    pub fn saturate(&mut self, load: f64) {
        for (i, m) in self.metrics.iter_mut().enumerate() {
            let busy = if i == PAYMENT { load } else { 0.0 };
            m.cpu = (0.22 + 0.76 * busy + self.rng.range(-0.03, 0.03)).clamp(0.0, 1.0);
            m.memory = (170.0 + 150.0 * busy + self.rng.range(0.0, 20.0)) * 1024.0 * 1024.0;
            m.active_connections = (2 + self.rng.below(5)) as f64 + (40.0 * busy).round();
            m.queue_depth = (self.rng.below(4) as f64 + (120.0 * busy).round()).max(0.0);
        }
    }

    /// Records one order that ends at `end_ns`, during an incident of intensity `load`.
    pub fn order(&mut self, end_ns: u64, load: f64) -> Order {
        let r = &mut self.rng;
        let request_id = format!("req-{:012x}", r.next() & 0xffff_ffff_ffff);
        let order_id = format!("ord-{:06x}", r.next() & 0xff_ffff);
        let user_id = format!("user-{}", 100 + r.below(900));
        let items = 1 + r.below(4) as i64;
        let timeout = r.unit() < 0.35 * load;
        // A declined card is rare (the seed's SLO counts a 402 against the budget).
        let declined = !timeout && r.unit() < 0.0001;
        let charge_ms = if timeout { 2500.0 } else { r.range(20.0, 80.0) + load * r.range(100.0, 500.0) };
        let stock_ms = r.range(8.0, 30.0);
        let validate_ms = r.range(1.0, 3.0);
        let pay_ms = charge_ms + 2.0;
        let ship_ms = if timeout || declined { 0.0 } else { stock_ms + 2.0 };
        let order_ms = validate_ms + pay_ms + ship_ms + 8.0;
        let gw_ms = order_ms + r.range(3.0, 8.0);
        let start = end_ns.saturating_sub((gw_ms * 1e6) as u64);
        let at = |ms: f64| start + (ms * 1e6) as u64;
        let trace_id: [u8; 16] = {
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&r.next().to_be_bytes());
            t[8..].copy_from_slice(&r.next().to_be_bytes());
            t
        };
        let tid = hex(&trace_id);
        let failed = timeout;
        let status = if failed {
            500
        } else if declined {
            402
        } else {
            201
        };
        let mut o = Order { failed, ..Order::default() };
        let mut ids = || r.next().to_be_bytes();
        let mut span = |o: &mut Order, service, parent, name, kind, from: f64, to: f64| {
            let id = ids();
            o.spans.push(Span {
                service,
                trace_id,
                span_id: id,
                parent,
                name,
                kind,
                start_ns: at(from),
                end_ns: at(to),
                attributes: Vec::new(),
                error: None,
                exception: None,
            });
            (o.spans.len() - 1, id)
        };
        let ts = |ms: f64| iso(at(ms));
        let line = |o: &mut Order,
                    service: usize,
                    level: &str,
                    event: &str,
                    span_id: &[u8; 8],
                    ms: f64,
                    extra: &str| {
            o.lines.push(Line {
                service,
                json: format!(
                    r#"{{"request_id": "{request_id}", "trace_id": "{tid}", "span_id": "{}", "user_id": "{user_id}"{extra}, "event": "{event}", "logger": "{}", "level": "{level}", "timestamp": "{}"}}"#,
                    hex(span_id),
                    SERVICES[service],
                    ts(ms)
                ),
            })
        };

        // api-gateway
        let (gw, gw_id) = span(&mut o, GATEWAY, None, ENDPOINTS[GATEWAY].2, 2, 0.0, gw_ms);
        line(&mut o, GATEWAY, "info", "request_started", &gw_id, 0.2, r#", "path": "/api/orders""#);
        let (call, call_id) =
            span(&mut o, GATEWAY, Some(gw_id), "POST order-service/orders", 3, 1.0, 1.0 + order_ms + 1.0);
        // order-service
        let o0 = 1.5;
        let (osrv, osrv_id) = span(&mut o, ORDERS, Some(call_id), ENDPOINTS[ORDERS].2, 2, o0, o0 + order_ms);
        let (create, create_id) = span(&mut o, ORDERS, Some(osrv_id), "create_order", 1, o0 + 0.5, o0 + order_ms - 0.5);
        span(&mut o, ORDERS, Some(create_id), "validate_order", 1, o0 + 1.0, o0 + 1.0 + validate_ms);
        let p0 = o0 + 1.5 + validate_ms;
        let (process, process_id) = span(&mut o, ORDERS, Some(create_id), "process_payment", 1, p0, p0 + pay_ms + 3.0);
        let (pcall, pcall_id) =
            span(&mut o, ORDERS, Some(process_id), "POST payment-service/charge", 3, p0 + 0.5, p0 + pay_ms + 2.5);
        // payment-service
        let (psrv, psrv_id) =
            span(&mut o, PAYMENT, Some(pcall_id), ENDPOINTS[PAYMENT].2, 2, p0 + 1.0, p0 + 1.0 + pay_ms);
        let (charge, _) = span(&mut o, PAYMENT, Some(psrv_id), "charge_card", 1, p0 + 1.5, p0 + 1.5 + charge_ms);
        o.spans[charge].attributes.push(("payment.amount", Value::Float(19.5 * items as f64)));
        let failure = if timeout {
            o.spans[charge].error = Some("upstream card processor timed out");
            o.spans[charge].exception = Some(("TimeoutError", "card processor did not answer in 2.5s"));
            o.spans[psrv].error = Some("timeout");
            o.spans[pcall].error = Some("504");
            o.spans[process].error = Some("payment failed");
            Some(r#", "error": "card processor timed out", "error_code": "TIMEOUT""#)
        } else if declined {
            Some(r#", "error": "Card declined", "error_code": "CARD_DECLINED""#)
        } else {
            None
        };
        match failure {
            Some(extra) => line(&mut o, PAYMENT, "error", "payment_failed", &psrv_id, p0 + pay_ms, extra),
            None => {
                let amount = format!(r#", "amount": {:.2}"#, 19.5 * items as f64);
                line(&mut o, PAYMENT, "info", "payment_succeeded", &psrv_id, p0 + pay_ms, &amount);
            }
        }
        let pay_status = if timeout {
            504
        } else if declined {
            402
        } else {
            200
        };
        // fulfillment-service, for paid orders
        let mut ship_status = None;
        if ship_ms > 0.0 {
            let f0 = p0 + pay_ms + 4.0;
            let (fulfil, fulfil_id) =
                span(&mut o, ORDERS, Some(create_id), "create_fulfillment", 1, f0, f0 + ship_ms + 1.5);
            let (fcall, fcall_id) = span(
                &mut o,
                ORDERS,
                Some(fulfil_id),
                "POST fulfillment-service/shipments",
                3,
                f0 + 0.3,
                f0 + ship_ms + 1.2,
            );
            let (fsrv, fsrv_id) =
                span(&mut o, FULFILLMENT, Some(fcall_id), ENDPOINTS[FULFILLMENT].2, 2, f0 + 0.6, f0 + ship_ms + 0.9);
            span(&mut o, FULFILLMENT, Some(fsrv_id), "reserve_stock", 1, f0 + 1.0, f0 + 1.0 + stock_ms);
            let extra = format!(r#", "order_id": "{order_id}", "items": {items}"#);
            line(&mut o, FULFILLMENT, "info", "shipment_created", &fsrv_id, f0 + ship_ms, &extra);
            for s in [fulfil, fcall, fsrv] {
                o.spans[s].attributes.push(("order.id", Value::Str(order_id.clone())));
            }
            ship_status = Some(201);
        }
        if failed {
            o.spans[create].error = Some("payment failed");
            o.spans[osrv].error = Some("500");
            o.spans[call].error = Some("500");
            o.spans[gw].error = Some("500");
            let extra = format!(r#", "order_id": "{order_id}", "error": "connection timeout to payment-service""#);
            line(&mut o, ORDERS, "error", "order_failed", &osrv_id, o0 + order_ms - 1.0, &extra);
        }
        let done = if failed { "request_failed" } else { "request_completed" };
        let level = if failed { "error" } else { "info" };
        let extra =
            format!(r#", "order_id": "{order_id}", "items": {items}, "status": {status}, "duration_ms": {gw_ms:.0}"#);
        line(&mut o, GATEWAY, level, done, &gw_id, gw_ms - 0.2, &extra);
        o.spans[gw].attributes.extend([
            ("http.route", Value::Str("/api/orders".into())),
            ("http.response.status_code", Value::Int(status.into())),
            ("request_id", Value::Str(request_id.clone())),
        ]);
        o.spans[osrv].attributes.push(("order.id", Value::Str(order_id.clone())));
        o.spans[psrv].attributes.push(("http.response.status_code", Value::Int(pay_status.into())));

        // Each service's metrics, as its request hooks count them.
        let end_s = end_ns as f64 / 1e9;
        let observe = |m: &mut Metrics, status: u16, ms: f64| {
            *m.requests.entry(status).or_default() += 1;
            let secs = ms / 1000.0;
            let b = BUCKETS.iter().position(|(le, _)| secs <= *le).unwrap_or(BUCKETS.len());
            m.duration.counts[b] += 1;
            m.duration.sum += secs;
            m.duration.exemplars[b] = Some((tid.clone(), secs, end_s));
        };
        observe(&mut self.metrics[GATEWAY], status, gw_ms);
        observe(&mut self.metrics[ORDERS], status, order_ms);
        observe(&mut self.metrics[PAYMENT], pay_status, pay_ms);
        if let Some(s) = ship_status {
            observe(&mut self.metrics[FULFILLMENT], s, ship_ms);
        }
        o
    }

    /// Every sample of a service's registry now, in exposition order.
    pub fn samples(&self, service: usize) -> Vec<Sample<'_>> {
        let m = &self.metrics[service];
        let (method, endpoint, _) = ENDPOINTS[service];
        let base = || vec![("method", method.to_string()), ("endpoint", endpoint.to_string())];
        let mut out = Vec::new();
        for (status, n) in &m.requests {
            let mut labels = base();
            labels.push(("status", status.to_string()));
            out.push(Sample { name: "http_requests_total", labels, value: *n as f64, exemplar: None });
        }
        let mut cumulative = 0;
        for (i, count) in m.duration.counts.iter().enumerate() {
            cumulative += count;
            let mut labels = base();
            labels.push(("le", BUCKETS.get(i).map_or("+Inf", |b| b.1).to_string()));
            out.push(Sample {
                name: "http_request_duration_seconds_bucket",
                labels,
                value: cumulative as f64,
                exemplar: m.duration.exemplars[i].as_ref(),
            });
        }
        out.push(Sample {
            name: "http_request_duration_seconds_count",
            labels: base(),
            value: cumulative as f64,
            exemplar: None,
        });
        out.push(Sample {
            name: "http_request_duration_seconds_sum",
            labels: base(),
            value: m.duration.sum,
            exemplar: None,
        });
        for (name, value) in [
            ("active_connections", m.active_connections),
            ("container_cpu_usage_ratio", m.cpu),
            ("container_memory_usage_bytes", m.memory),
            ("container_spec_memory_limit_bytes", MEMORY_LIMIT),
            ("queue_depth", m.queue_depth),
        ] {
            out.push(Sample { name, labels: Vec::new(), value, exemplar: None });
        }
        out
    }

    /// A service's `/metrics` in OpenMetrics text (which carries the exemplars).
    pub fn exposition(&self, service: usize) -> String {
        let mut out = String::new();
        let families: [(&str, &str, &str); 7] = [
            ("http_requests", "counter", "Total HTTP requests"),
            ("http_request_duration_seconds", "histogram", "Request duration in seconds"),
            ("active_connections", "gauge", "Number of active connections"),
            ("container_cpu_usage_ratio", "gauge", "CPU in use, as a fraction of the limit"),
            ("container_memory_usage_bytes", "gauge", "Memory in use"),
            ("container_spec_memory_limit_bytes", "gauge", "Memory limit"),
            ("queue_depth", "gauge", "Requests waiting to be served"),
        ];
        let samples = self.samples(service);
        for (family, kind, help) in families {
            let _ = writeln!(out, "# TYPE {family} {kind}\n# HELP {family} {help}");
            let ours = samples.iter().filter(|s| match kind {
                "counter" => s.name == "http_requests_total",
                "histogram" => s.name.starts_with(family) && s.name != family,
                _ => s.name == family,
            });
            for s in ours {
                out.push_str(s.name);
                if !s.labels.is_empty() {
                    let pairs: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    let _ = write!(out, "{{{}}}", pairs.join(","));
                }
                let _ = write!(out, " {}", s.value);
                if let Some((trace_id, v, t)) = s.exemplar {
                    let _ = write!(out, " # {{trace_id=\"{trace_id}\"}} {v} {t:.3}");
                }
                out.push('\n');
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// RFC 3339 with microseconds, as structlog's `TimeStamper(fmt="iso")` writes UTC.
fn iso(ns: u64) -> String {
    let t =
        chrono::DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_fails_a_third_of_orders_at_payment_and_the_exposition_counts_them() {
        let mut shop = Shop::new(Rng(42));
        let now = 1_800_000_000_000_000_000;
        let calm: Vec<Order> = (0..300).map(|i| shop.order(now + i * 1_000_000, 0.0)).collect();
        assert!(calm.iter().all(|o| !o.failed));
        assert_eq!(calm[0].spans.len(), 13);
        let hot: Vec<Order> = (0..600).map(|i| shop.order(now + i * 1_000_000, 1.0)).collect();
        let failed = hot.iter().filter(|o| o.failed).count();
        assert!((150..270).contains(&failed), "{failed} of 600 failed");
        let f = hot.iter().find(|o| o.failed).unwrap();
        // The failure starts at charge_card, and every line carries the trace's ID.
        let leaf: Vec<_> = f.spans.iter().filter(|s| s.error.is_some() && s.name == "charge_card").collect();
        assert_eq!(leaf.len(), 1);
        let tid = hex(&f.spans[0].trace_id);
        assert!(f.lines.iter().all(|l| l.json.contains(&tid)));
        for l in &f.lines {
            let v: serde_json::Value = serde_json::from_str(&l.json).unwrap();
            assert!(v["request_id"].as_str().unwrap().starts_with("req-"));
        }
        let text = shop.exposition(PAYMENT);
        assert!(text.contains("http_requests_total{method=\"POST\",endpoint=\"/charge\",status=\"504\"} "), "{text}");
        // The scraper's own parser reads it, exemplars included.
        let entries: Vec<_> = lantern_expfmt::Parser::new(text.as_bytes(), lantern_expfmt::Format::OpenMetrics)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let exemplars =
            entries.iter().filter(|e| matches!(e, lantern_expfmt::Entry::Sample(s) if s.exemplar.is_some())).count();
        assert!(exemplars >= 2, "{text}");
        let total: f64 =
            shop.samples(GATEWAY).iter().filter(|s| s.name == "http_requests_total").map(|s| s.value).sum();
        assert_eq!(total, 900.0);
    }
}
