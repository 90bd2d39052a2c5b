//! docs/grafana-dashboard.json cannot drift from src/metrics.rs: every query
//! names only metrics the server exports, and every Hearth metric is on a panel.

use std::collections::BTreeSet;

use serde_json::Value;

/// The process_* series of the prometheus process collector.
const PROCESS: &[&str] = &[
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "process_threads",
];

/// Metric names defined in src/metrics.rs: its `"hearth_..."` string literals.
fn defined() -> BTreeSet<String> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics.rs")).unwrap();
    src.split('"').skip(1).step_by(2).filter(|s| is_name(s) && s.starts_with("hearth_")).map(String::from).collect()
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every `expr` of every panel (rows included) and every templating query.
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The metric names in a PromQL expression (identifiers starting hearth_ or process_).
fn names(expr: &str) -> Vec<&str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("hearth_") || t.starts_with("process_"))
        .collect()
}

/// A histogram series name without its _bucket/_sum/_count suffix, if that is defined.
fn base<'a>(name: &'a str, defined: &BTreeSet<String>) -> Option<&'a str> {
    if defined.contains(name) || PROCESS.contains(&name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|b| defined.contains(*b))
}

#[test]
fn dashboard_queries_match_the_exported_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON");
    // Importable: a datasource input that the panels use, and a schema version.
    assert_eq!(dash["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(dash["__inputs"][0]["pluginId"], "prometheus");
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 36);
    assert!(dash["uid"].is_string() && dash["title"].is_string());

    let defined = defined();
    assert!(defined.len() >= 15, "metric names not found in src/metrics.rs: {defined:?}");
    let mut all = Vec::new();
    exprs(&dash["panels"], &mut all);
    assert!(!all.is_empty());
    let mut used = BTreeSet::new();
    for expr in &all {
        for name in names(expr) {
            let b = base(name, &defined).unwrap_or_else(|| panic!("{name} (in `{expr}`) is not exported"));
            used.insert(b.to_string());
        }
    }
    let mut templating = Vec::new();
    exprs(&dash["templating"], &mut templating);
    for expr in &templating {
        for name in names(expr) {
            assert!(base(name, &defined).is_some(), "{name} (in variable `{expr}`) is not exported");
        }
    }
    let missing: Vec<_> = defined.difference(&used).collect();
    assert!(missing.is_empty(), "metrics on no dashboard panel: {missing:?}");
    // Every panel queries the datasource input.
    for p in dash["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {}", p["title"]);
    }
}
