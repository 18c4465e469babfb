//! The one summary table of `./benches/run.sh` (issue 16, item 5): a row per figure that has
//! a target, with eventmap's figure, its baseline, the ratio, the target and whether the run
//! met it. Both benchmarks (`in_process`, `broker`) write their rows to a file of their own;
//! `run.sh` prints them under one header (scenario, eventmap, baseline, ratio, target, met),
//! which BENCHMARKS.md quotes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::stats::Summary;

/// What a figure must be to meet its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The median must be at least this (throughput ratios).
    AtLeast(f64),
    /// The median must be at most this (cost ratios, latencies).
    AtMost(f64),
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Self::AtLeast(bound) => value >= bound,
            Self::AtMost(bound) => value <= bound,
        }
    }
}

/// One row of the summary table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured, e.g. `"5: outbox relay, 100,000 events"`.
    pub scenario: String,
    /// eventmap's figure as shown, e.g. `"41,020 events/s"`.
    pub eventmap: String,
    /// The baseline's figure as shown (`"-"` when there is none).
    pub baseline: String,
    /// The per-round ratio (eventmap / baseline), when there is a baseline.
    pub ratio: Option<Summary>,
    /// The figure the target applies to (the ratio, or eventmap's own figure when the
    /// target is absolute) and the target, shown as `target_text`; `None`: no target.
    pub check: Option<(Option<Summary>, Target)>,
    /// The target as shown, e.g. `">= 0.5x"`, `"p50 <= 5 ms"`.
    pub target_text: String,
}

impl Row {
    /// A row whose target applies to the ratio eventmap / baseline.
    pub fn ratio(
        scenario: impl Into<String>,
        eventmap: impl Into<String>,
        baseline: impl Into<String>,
        ratio: Option<Summary>,
        target: Target,
    ) -> Self {
        Self {
            scenario: scenario.into(),
            eventmap: eventmap.into(),
            baseline: baseline.into(),
            ratio,
            check: Some((ratio, target)),
            target_text: match target {
                Target::AtLeast(bound) => format!(">= {bound}x"),
                Target::AtMost(bound) => format!("<= {bound}x"),
            },
        }
    }

    /// A row whose target applies to eventmap's own figure `value` (a latency, a rate),
    /// shown as `target_text`.
    pub fn absolute(
        scenario: impl Into<String>,
        eventmap: impl Into<String>,
        value: Option<Summary>,
        target: Target,
        target_text: impl Into<String>,
    ) -> Self {
        Self {
            scenario: scenario.into(),
            eventmap: eventmap.into(),
            baseline: "-".to_owned(),
            ratio: None,
            check: Some((value, target)),
            target_text: target_text.into(),
        }
    }

    /// `met`, `MISSED`, or `-` when there is no target or no figure (the scenario failed or
    /// did not run).
    pub fn verdict(&self) -> &'static str {
        match self.check {
            Some((Some(value), target)) if target.met_by(value.median) => "met",
            Some((Some(_), _)) => "MISSED",
            _ => "-",
        }
    }

    /// The row in Markdown, ending in a newline.
    pub fn markdown(&self) -> String {
        let ratio = self.ratio.map_or_else(|| "-".to_owned(), |r| r.display(2));
        let mut line = String::new();
        let _ = writeln!(
            line,
            "| {} | {} | {} | {} | {} | {} |",
            self.scenario,
            self.eventmap,
            self.baseline,
            ratio,
            if self.check.is_some() {
                &self.target_text
            } else {
                "-"
            },
            self.verdict()
        );
        line
    }
}

/// A throughput as shown in the summary, e.g. `"41,020 events/s [39,811-42,003]"`.
pub fn rate(summary: Option<Summary>) -> String {
    summary.map_or_else(
        || "-".to_owned(),
        |s| {
            format!(
                "{} events/s [{}-{}]",
                thousands(s.median),
                thousands(s.min),
                thousands(s.max)
            )
        },
    )
}

/// `value` rounded to an integer with `,` between thousands.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// Writes `rows` (Markdown, without the header) to `path`, replacing it.
///
/// # Errors
///
/// The file cannot be written.
pub fn write(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    for row in rows {
        file.write_all(row.markdown().as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(median: f64) -> Option<Summary> {
        Summary::of(&[median * 0.9, median, median * 1.1])
    }

    #[test]
    fn verdicts_follow_the_direction_of_the_target() {
        let relay = Row::ratio("relay", "a", "b", summary(0.55), Target::AtLeast(0.5));
        assert_eq!(relay.verdict(), "met");
        let slow = Row::ratio("relay", "a", "b", summary(0.45), Target::AtLeast(0.5));
        assert_eq!(slow.verdict(), "MISSED");
        let routing = Row::ratio("routing", "a", "b", summary(1.08), Target::AtMost(1.05));
        assert_eq!(routing.verdict(), "MISSED");
        let latency = Row::absolute(
            "latency",
            "p50 3 ms",
            summary(3.0),
            Target::AtMost(5.0),
            "p50 <= 5 ms",
        );
        assert_eq!(latency.verdict(), "met");
        let missing = Row::ratio("x", "-", "-", None, Target::AtLeast(1.0));
        assert_eq!(missing.verdict(), "-");
    }

    #[test]
    fn rows_render_as_markdown() {
        let row = Row::ratio(
            "5: relay",
            rate(Summary::of(&[41_020.0])),
            rate(Summary::of(&[80_000.0])),
            Summary::of(&[0.51, 0.5, 0.52]),
            Target::AtLeast(0.5),
        );
        assert_eq!(
            row.markdown(),
            "| 5: relay | 41,020 events/s [41,020-41,020] | 80,000 events/s [80,000-80,000] | 0.51 [0.50-0.52] | >= 0.5x | met |\n"
        );
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
