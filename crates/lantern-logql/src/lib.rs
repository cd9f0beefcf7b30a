//! LogQL, the query language of Loki, parsed into an [`Expr`] tree. Pure: the log store
//! evaluates it.
//!
//! Covered: stream selectors (`=`, `!=`, `=~`, `!~`); line filters (`|=`, `!=`, `|~`,
//! `!~`, chained with `or`); `json` and `logfmt` (optionally with `label="path"`
//! extractions), `regexp`, `line_format`, `label_format`, `drop`, `keep`,
//! `decolorize`; label filters (`=`, `!=`, `=~`, `!~`, `>`, `>=`, `<`, `<=`, `==` on
//! strings, numbers, durations and bytes, joined by `and`/`,`/`or`, parenthesised);
//! `unwrap`; range aggregations (`count_over_time`, `rate`, `bytes_over_time`,
//! `bytes_rate`, `sum_over_time`, `avg_over_time`, `min_over_time`, `max_over_time`,
//! `first_over_time`, `last_over_time`, `stddev_over_time`, `stdvar_over_time`,
//! `quantile_over_time`, `absent_over_time`, `rate_counter`) with `offset`; vector
//! aggregations (`sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`, `topk`,
//! `bottomk`, `sort`, `sort_desc`) with `by`/`without`; binary operators (`or`, `and`,
//! `unless`, comparisons with `bool`, `+ - * / % ^`) with `on`/`ignoring`; numbers and
//! `vector(n)`.

mod lexer;
mod parser;

pub use parser::parse;

/// A parse failure, with Loki's position convention (line and column, 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {message}")]
pub struct ParseError {
    /// Line (1-based).
    pub line: usize,
    /// Column (1-based).
    pub col: usize,
    /// What was wrong.
    pub message: String,
}

/// A label matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

/// A label matcher of a stream selector or a label filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value (a regular expression for `=~`/`!~`).
    pub value: String,
}

/// A line filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOp {
    /// `|=`: contains.
    Contains,
    /// `!=`: does not contain.
    NotContains,
    /// `|~`: matches the regular expression.
    Match,
    /// `!~`: does not match.
    NotMatch,
}

/// A comparison in a label filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// The value a label is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Number(f64),
    /// A duration, in seconds.
    Duration(f64),
    /// A size, in bytes.
    Bytes(f64),
}

/// A label filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// Both.
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// Either.
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// A string match.
    Match(Matcher),
    /// A numeric comparison.
    Cmp {
        /// Label name.
        name: String,
        /// Operator.
        op: CmpOp,
        /// Value.
        value: Literal,
    },
}

/// A `label_format` rename or template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelFmt {
    /// `dst=src`: the value of another label.
    Rename(String),
    /// `dst="template"`.
    Template(String),
}

/// A pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Line filters, all required; each holds values of which one must hold (`or`).
    LineFilter {
        /// Operator.
        op: LineOp,
        /// Values (alternatives joined by `or`).
        values: Vec<String>,
    },
    /// `json`, with optional `label="path"` extractions.
    Json(Vec<(String, String)>),
    /// `logfmt`, with optional `label="key"` extractions.
    Logfmt(Vec<(String, String)>),
    /// `regexp "(?P<name>…)"`.
    Regexp(String),
    /// `line_format "template"`.
    LineFormat(String),
    /// `label_format a=b, c="{{.x}}"`.
    LabelFormat(Vec<(String, LabelFmt)>),
    /// A label filter.
    Filter(LabelFilter),
    /// `drop` labels (names, or matchers).
    Drop(Vec<Matcher>),
    /// `keep` labels.
    Keep(Vec<Matcher>),
    /// `decolorize`.
    Decolorize,
    /// `unwrap label` (with `duration()`/`bytes()` conversion).
    Unwrap {
        /// Label.
        label: String,
        /// `duration`, `duration_seconds`, `bytes`, or none.
        conv: Option<String>,
    },
}

/// A log query: a stream selector and a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    /// The stream selector's matchers.
    pub selector: Vec<Matcher>,
    /// The pipeline.
    pub stages: Vec<Stage>,
}

/// A range aggregation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    /// Lines in the range.
    CountOverTime,
    /// Lines per second.
    Rate,
    /// Bytes of lines.
    BytesOverTime,
    /// Bytes per second.
    BytesRate,
    /// Sum of unwrapped values.
    SumOverTime,
    /// Mean.
    AvgOverTime,
    /// Minimum.
    MinOverTime,
    /// Maximum.
    MaxOverTime,
    /// First value.
    FirstOverTime,
    /// Last value.
    LastOverTime,
    /// Standard deviation.
    StddevOverTime,
    /// Variance.
    StdvarOverTime,
    /// A quantile (the parameter).
    QuantileOverTime,
    /// 1 when there are no lines.
    AbsentOverTime,
    /// Rate of an unwrapped counter.
    RateCounter,
}

impl RangeFn {
    fn from_name(s: &str) -> Option<RangeFn> {
        use RangeFn::*;
        Some(match s {
            "count_over_time" => CountOverTime,
            "rate" => Rate,
            "bytes_over_time" => BytesOverTime,
            "bytes_rate" => BytesRate,
            "sum_over_time" => SumOverTime,
            "avg_over_time" => AvgOverTime,
            "min_over_time" => MinOverTime,
            "max_over_time" => MaxOverTime,
            "first_over_time" => FirstOverTime,
            "last_over_time" => LastOverTime,
            "stddev_over_time" => StddevOverTime,
            "stdvar_over_time" => StdvarOverTime,
            "quantile_over_time" => QuantileOverTime,
            "absent_over_time" => AbsentOverTime,
            "rate_counter" => RateCounter,
            _ => return None,
        })
    }

    /// Whether the function reads unwrapped values (and so needs `| unwrap`).
    pub fn needs_unwrap(self) -> bool {
        use RangeFn::*;
        matches!(
            self,
            SumOverTime
                | AvgOverTime
                | MinOverTime
                | MaxOverTime
                | FirstOverTime
                | LastOverTime
                | StddevOverTime
                | StdvarOverTime
                | QuantileOverTime
                | RateCounter
        )
    }
}

/// A vector aggregation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    /// Sum.
    Sum,
    /// Mean.
    Avg,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Count of series.
    Count,
    /// Standard deviation.
    Stddev,
    /// Variance.
    Stdvar,
    /// The k largest.
    Topk,
    /// The k smallest.
    Bottomk,
    /// Sorted ascending.
    Sort,
    /// Sorted descending.
    SortDesc,
}

impl AggOp {
    fn from_name(s: &str) -> Option<AggOp> {
        use AggOp::*;
        Some(match s {
            "sum" => Sum,
            "avg" => Avg,
            "min" => Min,
            "max" => Max,
            "count" => Count,
            "stddev" => Stddev,
            "stdvar" => Stdvar,
            "topk" => Topk,
            "bottomk" => Bottomk,
            "sort" => Sort,
            "sort_desc" => SortDesc,
            _ => return None,
        })
    }
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// `without` rather than `by`.
    pub without: bool,
    /// Label names.
    pub labels: Vec<String>,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `unless`
    Unless,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl BinOp {
    /// Whether the operator compares (and so filters, without `bool`).
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le)
    }
}

/// `on (…)` or `ignoring (…)` of a binary operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorMatching {
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// Label names.
    pub labels: Vec<String>,
}

/// A LogQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A log query (answers streams).
    Log(LogExpr),
    /// A range aggregation of a log query.
    Range {
        /// Function.
        func: RangeFn,
        /// The log query.
        log: LogExpr,
        /// Range, in nanoseconds.
        range: i64,
        /// Offset, in nanoseconds.
        offset: i64,
        /// The quantile of `quantile_over_time`.
        param: Option<f64>,
        /// `by`/`without` of an unwrapped range aggregation.
        grouping: Option<Grouping>,
    },
    /// A vector aggregation.
    Agg {
        /// Operator.
        op: AggOp,
        /// `k` of topk/bottomk.
        param: Option<f64>,
        /// Grouping.
        grouping: Option<Grouping>,
        /// The aggregated expression.
        expr: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
        /// `bool` modifier of a comparison.
        return_bool: bool,
        /// `on`/`ignoring`.
        matching: Option<VectorMatching>,
    },
    /// A number.
    Number(f64),
    /// `vector(n)`.
    Vector(f64),
}

impl Expr {
    /// Whether the expression answers log lines (streams) rather than numbers.
    pub fn is_log(&self) -> bool {
        matches!(self, Expr::Log(_))
    }
}

/// Parses a duration (`5m`, `1h30m`, `250ms`, `1.5s`, `2d`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    lantern_core::duration::parse_go_nanos(s, lantern_core::duration::GoUnits::WithDays)
}

/// Parses a size (`10KB`, `1.5MiB`, `42`) into bytes.
pub fn parse_bytes(s: &str) -> Option<f64> {
    lantern_core::bytesize::parse_lenient(s)
}

#[cfg(test)]
mod tests;
