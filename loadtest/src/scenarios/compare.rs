//! compare: no load — draw one SVG from several `--json` reports (the
//! side-by-side and scaling charts of docs/benchmarks.md).

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::report::Report;
use crate::svg::Row;

/// Options of the compare command.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Reports written with --json, each `LABEL=FILE` (or just FILE: the label is the file name).
    #[arg(required = true)]
    pub reports: Vec<String>,
    /// Chart title.
    #[arg(long, default_value = "hearth-loadtest")]
    pub title: String,
}

/// Draw the chart into `--svg` and return an empty report.
pub fn run(svg: Option<&PathBuf>, a: &Args) -> anyhow::Result<Report> {
    let Some(svg) = svg else { bail!("compare draws into --svg FILE") };
    let mut rows = Vec::new();
    for spec in &a.reports {
        let (label, file) = spec.split_once('=').unwrap_or((spec.as_str(), spec.as_str()));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).with_context(|| format!("read {file}"))?)
                .with_context(|| format!("parse {file}"))?;
        rows.push(Row {
            label: label.trim_end_matches(".json").rsplit('/').next().unwrap_or(label).to_string(),
            per_s: v["deliveries"]["per_s"].as_f64().unwrap_or(0.0),
            p50: v["latency"]["p50_ms"].as_f64().unwrap_or(0.0),
            p99: v["latency"]["p99_ms"].as_f64().unwrap_or(0.0),
        });
    }
    crate::svg::compare(svg, &a.title, &rows)?;
    Ok(Report { scenario: "compare".into(), params: serde_json::json!({"reports": a.reports}), ..Report::default() })
}
