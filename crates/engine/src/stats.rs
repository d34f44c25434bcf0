//! Timings of one request, reported as Ollama does.

use std::fmt::Write as _;
use std::time::Duration;

/// Why a generation ended (Ollama's `done_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoneReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `num_predict` reached or the context is full.
    Length,
    /// The caller cancelled (Ctrl-C, client gone).
    Cancelled,
}

impl DoneReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DoneReason::Stop => "stop",
            DoneReason::Length => "length",
            DoneReason::Cancelled => "cancel",
        }
    }
}

/// Ollama's metrics of one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub total_duration: Duration,
    pub load_duration: Duration,
    pub prompt_eval_count: usize,
    pub prompt_eval_duration: Duration,
    pub eval_count: usize,
    pub eval_duration: Duration,
}

impl Stats {
    /// The block `ollama run --verbose` prints (only fields > 0, as Ollama).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        if !self.total_duration.is_zero() {
            let _ = writeln!(
                s,
                "total duration:       {}",
                go_duration(self.total_duration)
            );
        }
        if !self.load_duration.is_zero() {
            let _ = writeln!(
                s,
                "load duration:        {}",
                go_duration(self.load_duration)
            );
        }
        if self.prompt_eval_count > 0 {
            let _ = writeln!(
                s,
                "prompt eval count:    {} token(s)",
                self.prompt_eval_count
            );
        }
        if !self.prompt_eval_duration.is_zero() {
            let _ = writeln!(
                s,
                "prompt eval duration: {}",
                go_duration(self.prompt_eval_duration)
            );
            let _ = writeln!(
                s,
                "prompt eval rate:     {:.2} tokens/s",
                rate(self.prompt_eval_count, self.prompt_eval_duration)
            );
        }
        if self.eval_count > 0 {
            let _ = writeln!(s, "eval count:           {} token(s)", self.eval_count);
        }
        if !self.eval_duration.is_zero() {
            let _ = writeln!(
                s,
                "eval duration:        {}",
                go_duration(self.eval_duration)
            );
            let _ = writeln!(
                s,
                "eval rate:            {:.2} tokens/s",
                rate(self.eval_count, self.eval_duration)
            );
        }
        s
    }
}

/// Formats like Go's `time.Duration.String()`: `1.644773s`, `889.941ms`,
/// `12.5µs`, `1m2.5s`, `0s`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", fraction(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", fraction(ns, 1_000_000));
    }
    let total_s = ns / 1_000_000_000;
    let frac_ns = ns % 1_000_000_000;
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    let secs = fraction(s * 1_000_000_000 + frac_ns, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `v / unit` with the fraction's trailing zeros trimmed (Go's fmtFrac).
fn fraction(v: u128, unit: u128) -> String {
    let whole = v / unit;
    let frac = v % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = unit.ilog10() as usize;
    let f = format!("{frac:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (889_941_000, "889.941ms"),
            (1_644_773_000, "1.644773s"),
            (3_000_000_000, "3s"),
            (62_500_000_000, "1m2.5s"),
            (3_723_000_000_000, "1h2m3s"),
        ];
        for (ns, want) in cases {
            assert_eq!(go_duration(Duration::from_nanos(ns)), want);
        }
    }

    #[test]
    fn summary_has_ollamas_lines() {
        let s = Stats {
            total_duration: Duration::from_millis(1500),
            load_duration: Duration::from_millis(100),
            prompt_eval_count: 10,
            prompt_eval_duration: Duration::from_millis(200),
            eval_count: 1,
            eval_duration: Duration::from_millis(1000),
        };
        let text = s.summary();
        assert_eq!(
            text,
            "total duration:       1.5s\nload duration:        100ms\nprompt eval count:    10 token(s)\n\
             prompt eval duration: 200ms\nprompt eval rate:     50.00 tokens/s\neval count:           1 token(s)\n\
             eval duration:        1s\neval rate:            1.00 tokens/s\n"
        );
    }
}
