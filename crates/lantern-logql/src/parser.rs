//! The recursive-descent parser (binary operators by precedence, as PromQL's).

use crate::lexer::{error_at, lex, Tok};
use crate::{
    parse_bytes, parse_duration, AggOp, BinOp, CmpOp, Expr, Grouping, LabelFilter, LabelFmt, LineOp, Literal, LogExpr,
    MatchOp, Matcher, ParseError, RangeFn, Stage, VectorMatching,
};

/// Parses a LogQL query.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0 };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    i: usize,
}

fn precedence(t: &Tok) -> Option<(BinOp, u8)> {
    Some(match t {
        Tok::Ident(s) if s == "or" => (BinOp::Or, 1),
        Tok::Ident(s) if s == "and" => (BinOp::And, 2),
        Tok::Ident(s) if s == "unless" => (BinOp::Unless, 2),
        Tok::Sym("==") => (BinOp::Eq, 3),
        Tok::Sym("!=") => (BinOp::Ne, 3),
        Tok::Sym(">") => (BinOp::Gt, 3),
        Tok::Sym(">=") => (BinOp::Ge, 3),
        Tok::Sym("<") => (BinOp::Lt, 3),
        Tok::Sym("<=") => (BinOp::Le, 3),
        Tok::Sym("+") => (BinOp::Add, 4),
        Tok::Sym("-") => (BinOp::Sub, 4),
        Tok::Sym("*") => (BinOp::Mul, 5),
        Tok::Sym("/") => (BinOp::Div, 5),
        Tok::Sym("%") => (BinOp::Mod, 5),
        Tok::Sym("^") => (BinOp::Pow, 6),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].1
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        error_at(self.src, self.pos(), msg.into())
    }

    fn unexpected(&self) -> ParseError {
        let what = match self.peek() {
            Tok::Eof => "end of input".to_string(),
            Tok::Ident(s) => format!("IDENTIFIER {s:?}"),
            Tok::Str(s) => format!("STRING {s:?}"),
            Tok::Num(s) => format!("NUMBER {s}"),
            Tok::Sym(s) => format!("{s:?}"),
        };
        self.err(format!("syntax error: unexpected {what}"))
    }

    fn sym(&mut self, s: &str) -> Result<(), ParseError> {
        if self.is_sym(s) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(format!("syntax error: expected {s:?}, got {}", describe(self.peek()))))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == s)
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Ident(s) => Ok(s),
            t => {
                self.i -= 1;
                Err(self.err(format!("syntax error: expected a name, got {}", describe(&t))))
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Str(s) => Ok(s),
            t => {
                self.i -= 1;
                Err(self.err(format!("syntax error: expected a string, got {}", describe(&t))))
            }
        }
    }

    fn number(&mut self) -> Result<f64, ParseError> {
        let neg = if self.is_sym("-") {
            self.i += 1;
            true
        } else {
            false
        };
        match self.next() {
            Tok::Num(s) => {
                let n: f64 = s.parse().map_err(|_| {
                    self.i -= 1;
                    self.err(format!("syntax error: {s:?} is not a number"))
                })?;
                Ok(if neg { -n } else { n })
            }
            t => {
                self.i -= 1;
                Err(self.err(format!("syntax error: expected a number, got {}", describe(&t))))
            }
        }
    }

    fn duration(&mut self) -> Result<i64, ParseError> {
        match self.next() {
            Tok::Num(s) => parse_duration(&s).ok_or_else(|| {
                self.i -= 1;
                self.err(format!("syntax error: {s:?} is not a duration"))
            }),
            t => {
                self.i -= 1;
                Err(self.err(format!("syntax error: expected a duration, got {}", describe(&t))))
            }
        }
    }

    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = precedence(self.peek()) {
            if prec < min {
                break;
            }
            self.i += 1;
            let mut return_bool = false;
            if self.is_ident("bool") {
                if !op.is_comparison() {
                    return Err(self.err("bool modifier can only be used on comparison operators"));
                }
                self.i += 1;
                return_bool = true;
            }
            let mut matching = None;
            if self.is_ident("on") || self.is_ident("ignoring") {
                let on = self.is_ident("on");
                self.i += 1;
                matching = Some(VectorMatching { on, labels: self.label_list()? });
            }
            // `^` is right-associative; the others left.
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.expr(next)?;
            if lhs.is_log() || rhs.is_log() {
                return Err(self.err("binary operations need metric queries on both sides, not log queries"));
            }
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), return_bool, matching };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Sym("-") => {
                self.i += 1;
                let e = self.unary()?;
                Ok(match e {
                    Expr::Number(n) => Expr::Number(-n),
                    e => Expr::Binary {
                        op: BinOp::Mul,
                        lhs: Box::new(Expr::Number(-1.0)),
                        rhs: Box::new(e),
                        return_bool: false,
                        matching: None,
                    },
                })
            }
            Tok::Sym("+") => {
                self.i += 1;
                self.unary()
            }
            Tok::Sym("(") => {
                self.i += 1;
                let e = self.expr(0)?;
                self.sym(")")?;
                Ok(e)
            }
            Tok::Num(_) => Ok(Expr::Number(self.number()?)),
            Tok::Sym("{") => Ok(Expr::Log(self.log_expr()?)),
            Tok::Ident(name) => {
                if let Some(f) = RangeFn::from_name(&name) {
                    self.i += 1;
                    return self.range_agg(f);
                }
                if let Some(op) = AggOp::from_name(&name) {
                    self.i += 1;
                    return self.vector_agg(op);
                }
                if name == "vector" {
                    self.i += 1;
                    self.sym("(")?;
                    let n = self.number()?;
                    self.sym(")")?;
                    return Ok(Expr::Vector(n));
                }
                Err(self.err(format!(
                    "syntax error: unexpected IDENTIFIER {name:?}: expected a stream selector, a function or a number"
                )))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn range_agg(&mut self, func: RangeFn) -> Result<Expr, ParseError> {
        self.sym("(")?;
        let mut param = None;
        if func == RangeFn::QuantileOverTime {
            param = Some(self.number()?);
            self.sym(",")?;
        }
        let paren = self.is_sym("(");
        if paren {
            self.i += 1;
        }
        let log = self.log_expr()?;
        if paren {
            self.sym(")")?;
        }
        self.sym("[")?;
        let range = self.duration()?;
        self.sym("]")?;
        let mut offset = 0;
        if self.is_ident("offset") {
            self.i += 1;
            offset = self.duration()?;
        }
        self.sym(")")?;
        let unwrapped = log.stages.iter().any(|s| matches!(s, Stage::Unwrap { .. }));
        if func.needs_unwrap() && !unwrapped {
            return Err(self.err(format!("{func:?} needs an unwrapped label: add | unwrap <label>")));
        }
        if !func.needs_unwrap() && unwrapped && func != RangeFn::Rate {
            return Err(
                self.err("an unwrapped range can only be used with sum/avg/min/max/quantile…_over_time or rate")
            );
        }
        let grouping = if self.is_ident("by") || self.is_ident("without") { Some(self.grouping()?) } else { None };
        if range <= 0 {
            return Err(self.err("the range must be positive"));
        }
        Ok(Expr::Range { func, log, range, offset, param, grouping })
    }

    fn vector_agg(&mut self, op: AggOp) -> Result<Expr, ParseError> {
        let mut grouping = if self.is_ident("by") || self.is_ident("without") { Some(self.grouping()?) } else { None };
        self.sym("(")?;
        let mut param = None;
        if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            param = Some(self.number()?);
            self.sym(",")?;
        }
        let e = self.expr(0)?;
        if e.is_log() {
            return Err(self.err("a vector aggregation needs a metric query, not a log query"));
        }
        self.sym(")")?;
        if grouping.is_none() && (self.is_ident("by") || self.is_ident("without")) {
            grouping = Some(self.grouping()?);
        }
        Ok(Expr::Agg { op, param, grouping, expr: Box::new(e) })
    }

    fn grouping(&mut self) -> Result<Grouping, ParseError> {
        let without = self.ident()? == "without";
        Ok(Grouping { without, labels: self.label_list()? })
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.sym("(")?;
        let mut out = Vec::new();
        while !self.is_sym(")") {
            out.push(self.ident()?);
            if !self.is_sym(")") {
                self.sym(",")?;
            }
        }
        self.sym(")")?;
        Ok(out)
    }

    fn matcher(&mut self) -> Result<Matcher, ParseError> {
        let name = self.ident()?;
        let op = match self.next() {
            Tok::Sym("=") => MatchOp::Eq,
            Tok::Sym("!=") => MatchOp::Ne,
            Tok::Sym("=~") => MatchOp::Re,
            Tok::Sym("!~") => MatchOp::Nre,
            t => {
                self.i -= 1;
                return Err(
                    self.err(format!("syntax error: expected a matcher operator after {name:?}, got {}", describe(&t)))
                );
            }
        };
        let value = self.string()?;
        Ok(Matcher { name, op, value })
    }

    fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let open = self.pos();
        self.sym("{")?;
        let mut selector = Vec::new();
        while !self.is_sym("}") {
            selector.push(self.matcher()?);
            if !self.is_sym("}") {
                self.sym(",")?;
            }
        }
        self.sym("}")?;
        if selector.is_empty() {
            return Err(error_at(
                self.src,
                open,
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value"
                    .into(),
            ));
        }
        let mut stages = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Sym("|=") => LineOp::Contains,
                Tok::Sym("!=") => LineOp::NotContains,
                Tok::Sym("|~") => LineOp::Match,
                Tok::Sym("!~") => LineOp::NotMatch,
                Tok::Sym("|") => {
                    self.i += 1;
                    stages.push(self.stage()?);
                    continue;
                }
                _ => break,
            };
            // `!=` after a metric-free log query is a line filter only when a string
            // follows.
            if !matches!(self.peek_at(1), Tok::Str(_)) {
                break;
            }
            self.i += 1;
            let mut values = vec![self.string()?];
            while self.is_ident("or") && matches!(self.peek_at(1), Tok::Str(_)) {
                self.i += 1;
                values.push(self.string()?);
            }
            stages.push(Stage::LineFilter { op, values });
        }
        Ok(LogExpr { selector, stages })
    }

    fn extractions(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut out = Vec::new();
        while matches!(self.peek(), Tok::Ident(_)) {
            let name = self.ident()?;
            let path = if self.is_sym("=") {
                self.i += 1;
                match self.peek() {
                    Tok::Str(_) => self.string()?,
                    _ => self.ident()?,
                }
            } else {
                name.clone()
            };
            out.push((name, path));
            if self.is_sym(",") {
                self.i += 1;
            } else {
                break;
            }
        }
        Ok(out)
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let name = match self.peek() {
            Tok::Ident(s) => s.clone(),
            Tok::Sym("(") => return Ok(Stage::Filter(self.filter_or()?)),
            _ => return Err(self.unexpected()),
        };
        // A name followed by a comparison is a label filter.
        let filter_follows =
            matches!(self.peek_at(1), Tok::Sym("=" | "!=" | "=~" | "!~" | "==" | ">" | ">=" | "<" | "<="));
        if filter_follows {
            return Ok(Stage::Filter(self.filter_or()?));
        }
        let at = self.pos();
        self.i += 1;
        match name.as_str() {
            "json" => Ok(Stage::Json(self.extractions()?)),
            "logfmt" => {
                // Flags are accepted and have no effect here.
                while self.is_sym("-") {
                    self.i += 1;
                    if self.is_sym("-") {
                        self.i += 1;
                    }
                    self.ident()?;
                }
                Ok(Stage::Logfmt(self.extractions()?))
            }
            "regexp" => Ok(Stage::Regexp(self.string()?)),
            "line_format" => Ok(Stage::LineFormat(self.string()?)),
            "label_format" => {
                let mut out = Vec::new();
                loop {
                    let dst = self.ident()?;
                    self.sym("=")?;
                    let v = match self.peek() {
                        Tok::Str(_) => LabelFmt::Template(self.string()?),
                        _ => LabelFmt::Rename(self.ident()?),
                    };
                    out.push((dst, v));
                    if self.is_sym(",") {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Ok(Stage::LabelFormat(out))
            }
            "drop" | "keep" => {
                let mut out = Vec::new();
                loop {
                    if matches!(self.peek_at(1), Tok::Sym("=" | "!=" | "=~" | "!~")) {
                        out.push(self.matcher()?);
                    } else {
                        out.push(Matcher { name: self.ident()?, op: MatchOp::Re, value: ".*".into() });
                    }
                    if self.is_sym(",") {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Ok(if name == "drop" { Stage::Drop(out) } else { Stage::Keep(out) })
            }
            "decolorize" => Ok(Stage::Decolorize),
            "unwrap" => {
                let first = self.ident()?;
                if self.is_sym("(") {
                    self.i += 1;
                    let label = self.ident()?;
                    self.sym(")")?;
                    if !matches!(first.as_str(), "duration" | "duration_seconds" | "bytes") {
                        return Err(
                            self.err(format!("unwrap conversion {first:?} is not duration, duration_seconds or bytes"))
                        );
                    }
                    return Ok(Stage::Unwrap { label, conv: Some(first) });
                }
                Ok(Stage::Unwrap { label: first, conv: None })
            }
            "pattern" | "unpack" => Err(error_at(self.src, at, format!("the {name} parser is not supported"))),
            _ => Err(error_at(
                self.src,
                at,
                format!(
                    "syntax error: unexpected IDENTIFIER {name:?}: expected a parser, a formatter or a label filter"
                ),
            )),
        }
    }

    fn filter_or(&mut self) -> Result<LabelFilter, ParseError> {
        let mut l = self.filter_and()?;
        while self.is_ident("or") {
            self.i += 1;
            let r = self.filter_and()?;
            l = LabelFilter::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut l = self.filter_atom()?;
        loop {
            if self.is_ident("and") || self.is_sym(",") {
                self.i += 1;
            } else if !(matches!(self.peek(), Tok::Ident(s) if s != "or") && matches!(self.peek_at(1), Tok::Sym(_))) {
                break;
            }
            let r = self.filter_atom()?;
            l = LabelFilter::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn filter_atom(&mut self) -> Result<LabelFilter, ParseError> {
        if self.is_sym("(") {
            self.i += 1;
            let f = self.filter_or()?;
            self.sym(")")?;
            return Ok(f);
        }
        let name = self.ident()?;
        let op = match self.next() {
            Tok::Sym(s) => s,
            t => {
                self.i -= 1;
                return Err(
                    self.err(format!("syntax error: expected a comparison after {name:?}, got {}", describe(&t)))
                );
            }
        };
        if let Tok::Str(_) = self.peek() {
            let mop = match op {
                "=" | "==" => MatchOp::Eq,
                "!=" => MatchOp::Ne,
                "=~" => MatchOp::Re,
                "!~" => MatchOp::Nre,
                _ => return Err(self.err(format!("syntax error: {op:?} cannot compare with a string"))),
            };
            return Ok(LabelFilter::Match(Matcher { name, op: mop, value: self.string()? }));
        }
        let cop = match op {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            _ => return Err(self.err(format!("syntax error: {op:?} needs a string"))),
        };
        let neg = if self.is_sym("-") {
            self.i += 1;
            -1.0
        } else {
            1.0
        };
        let text = match self.next() {
            Tok::Num(s) => s,
            t => {
                self.i -= 1;
                return Err(
                    self.err(format!("syntax error: expected a number, duration or size, got {}", describe(&t)))
                );
            }
        };
        let value = if let Ok(n) = text.parse::<f64>() {
            Literal::Number(neg * n)
        } else if let Some(d) = parse_duration(&text) {
            Literal::Duration(neg * d as f64 / 1e9)
        } else if let Some(b) = parse_bytes(&text) {
            Literal::Bytes(neg * b)
        } else {
            self.i -= 1;
            return Err(self.err(format!("syntax error: {text:?} is not a number, duration or size")));
        };
        Ok(LabelFilter::Cmp { name, op: cop, value })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "end of input".into(),
        Tok::Ident(s) => format!("{s:?}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Num(s) => s.clone(),
        Tok::Sym(s) => format!("{s:?}"),
    }
}
