//! SVG charts of a run: latency percentiles and throughput per second; for a
//! ramp, also deliveries/s and p99 per offered rate.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::report::Report;

const W: u32 = 900;
const H: u32 = 640;

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("svg: {e}")
}

/// Draw `r` into `path`.
pub fn draw(path: &Path, r: &Report) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!("{} / {} — {}", r.scenario, r.target, r.params);
    let root = root.titled(&title, ("sans-serif", 14)).map_err(err)?;
    let (top, bottom) = root.split_vertically(H / 2 - 10);
    if r.steps.is_empty() {
        timeline(&top, &bottom, r)?;
    } else {
        steps(&top, &bottom, r)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn timeline(top: &Area, bottom: &Area, r: &Report) -> anyhow::Result<()> {
    let secs: Vec<_> = r.timeline.iter().filter(|s| s.received > 0 || s.latency.count > 0).collect();
    let x0 = secs.first().map_or(0, |s| s.t_s) as f64;
    let x1 = secs.last().map_or(1, |s| s.t_s + 1) as f64;
    let lat_max = secs.iter().map(|s| s.latency.max_ms).fold(1.0f64, f64::max) * 1.1;
    let mut c = ChartBuilder::on(top)
        .margin(10)
        .caption("latency by send second (ms)", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (0.01f64..lat_max).log_scale())
        .map_err(err)?;
    c.configure_mesh().x_desc("seconds").y_desc("ms").draw().map_err(err)?;
    let with = |f: fn(&crate::stats::Percentiles) -> f64| {
        secs.iter()
            .filter(|s| s.latency.count > 0)
            .map(move |s| (s.t_s as f64, f(&s.latency).max(0.01)))
            .collect::<Vec<_>>()
    };
    for (name, color, pts) in [
        ("p50", BLUE, with(|p| p.p50_ms)),
        ("p99", RED, with(|p| p.p99_ms)),
        ("p99.9", MAGENTA, with(|p| p.p999_ms)),
        ("max", BLACK, with(|p| p.max_ms)),
    ] {
        c.draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;

    let rate_max = secs.iter().map(|s| s.received).max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut c = ChartBuilder::on(bottom)
        .margin(10)
        .caption("deliveries received per second", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0f64..rate_max)
        .map_err(err)?;
    c.configure_mesh().x_desc("seconds").y_desc("deliveries/s").draw().map_err(err)?;
    c.draw_series(LineSeries::new(secs.iter().map(|s| (s.t_s as f64, s.received as f64)), GREEN.stroke_width(2)))
        .map_err(err)?;
    Ok(())
}

fn steps(top: &Area, bottom: &Area, r: &Report) -> anyhow::Result<()> {
    let x1 = r.steps.iter().map(|s| s.rate).fold(1.0, f64::max) * 1.05;
    let y1 = r.steps.iter().map(|s| s.deliveries_per_s.max(s.rate)).fold(1.0, f64::max) * 1.1;
    let mut c = ChartBuilder::on(top)
        .margin(10)
        .caption("deliveries/s by offered message rate", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x1, 0f64..y1)
        .map_err(err)?;
    c.configure_mesh().x_desc("messages/s offered").y_desc("deliveries/s").draw().map_err(err)?;
    c.draw_series(LineSeries::new(r.steps.iter().map(|s| (s.rate, s.deliveries_per_s)), GREEN.stroke_width(2)))
        .map_err(err)?;
    c.draw_series(
        r.steps.iter().map(|s| Circle::new((s.rate, s.deliveries_per_s), 4, if s.ok { GREEN } else { RED }.filled())),
    )
    .map_err(err)?;

    let lat_max = r.steps.iter().map(|s| s.latency.max_ms).fold(1.0f64, f64::max) * 1.2;
    let mut c = ChartBuilder::on(bottom)
        .margin(10)
        .caption("latency by offered message rate (ms)", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x1, (0.01f64..lat_max).log_scale())
        .map_err(err)?;
    c.configure_mesh().x_desc("messages/s offered").y_desc("ms").draw().map_err(err)?;
    for (name, color, f) in [
        ("p50", BLUE, (|p: &crate::stats::Percentiles| p.p50_ms) as fn(&crate::stats::Percentiles) -> f64),
        ("p99", RED, |p| p.p99_ms),
        ("max", BLACK, |p| p.max_ms),
    ] {
        c.draw_series(LineSeries::new(
            r.steps.iter().map(|s| (s.rate, f(&s.latency).max(0.01))),
            color.stroke_width(2),
        ))
        .map_err(err)?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    Ok(())
}

/// One bar group of a comparison chart: a label and a report's headline numbers.
pub struct Row {
    /// Shown under the bars.
    pub label: String,
    /// Deliveries per second over the window.
    pub per_s: f64,
    /// Latency p50, ms.
    pub p50: f64,
    /// Latency p99, ms.
    pub p99: f64,
}

/// Bars of deliveries/s and latency for several runs side by side.
pub fn compare(path: &Path, title: &str, rows: &[Row]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 15)).map_err(err)?;
    let (top, bottom) = root.split_vertically(H / 2 - 10);
    let n = rows.len().max(1) as f64;
    let label = |x: &f64| {
        rows.get(x.round() as usize).filter(|_| (x - x.round()).abs() < 1e-6).map_or(String::new(), |r| r.label.clone())
    };
    let y1 = rows.iter().map(|r| r.per_s).fold(1.0, f64::max) * 1.15;
    let mut c = ChartBuilder::on(&top)
        .margin(10)
        .caption("deliveries per second", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..y1)
        .map_err(err)?;
    c.configure_mesh().x_labels(rows.len() * 2 + 1).x_label_formatter(&label).disable_x_mesh().draw().map_err(err)?;
    c.draw_series(
        rows.iter()
            .enumerate()
            .map(|(i, r)| Rectangle::new([(i as f64 - 0.3, 0.0), (i as f64 + 0.3, r.per_s)], GREEN.mix(0.7).filled())),
    )
    .map_err(err)?;
    let l1 = rows.iter().map(|r| r.p99.max(r.p50)).fold(1.0, f64::max) * 1.5;
    let mut c = ChartBuilder::on(&bottom)
        .margin(10)
        .caption("latency p50 (blue) and p99 (red), ms", ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..n - 0.5, (0.1f64..l1).log_scale())
        .map_err(err)?;
    c.configure_mesh().x_labels(rows.len() * 2 + 1).x_label_formatter(&label).disable_x_mesh().draw().map_err(err)?;
    c.draw_series(
        rows.iter()
            .enumerate()
            .map(|(i, r)| Rectangle::new([(i as f64 - 0.3, 0.1), (i as f64, r.p50.max(0.1))], BLUE.mix(0.7).filled())),
    )
    .map_err(err)?;
    c.draw_series(
        rows.iter()
            .enumerate()
            .map(|(i, r)| Rectangle::new([(i as f64, 0.1), (i as f64 + 0.3, r.p99.max(0.1))], RED.mix(0.7).filled())),
    )
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// The soak's curve: server memory (RSS, database, storage cache, replay and
/// outbound bytes) over time, and delivery latency and server CPU below.
pub fn draw_soak(path: &Path, r: &Report, k: &crate::report::Soak) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let v = &k.verdict;
    let title = format!(
        "soak: RSS {:+.2} MiB/h, store {:+.2} MiB/h after {} s warm-up — {}",
        v.rss_mib_per_h,
        v.store_mib_per_h,
        k.bounds.warmup_s,
        if v.ok { "flat" } else { "GROWS" }
    );
    let root = root.titled(&title, ("sans-serif", 14)).map_err(err)?;
    let (top, bottom) = root.split_vertically(H / 2 + 40);
    let min = |s: &crate::slope::Sample| s.t_s / 60.0;
    let x1 = k.samples.last().map_or(1.0, min).max(1.0);
    let y1 = k.samples.iter().map(|s| s.rss_mib.max(s.store_mib)).fold(1.0, f64::max) * 1.15;
    let mut c = ChartBuilder::on(&top)
        .margin(10)
        .caption(format!("server memory (MiB) — {}", r.params), ("sans-serif", 11))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x1, 0f64..y1)
        .map_err(err)?;
    c.configure_mesh().x_desc("minutes").y_desc("MiB").draw().map_err(err)?;
    type Pick = fn(&crate::slope::Sample) -> f64;
    let series: [(&str, RGBColor, Pick); 5] = [
        ("RSS", RED, |s| s.rss_mib),
        ("database file", BLUE, |s| s.store_mib),
        ("storage cache", GREEN, |s| s.cache_mib),
        ("replay buffers", MAGENTA, |s| s.replay_mib),
        ("outbound queues", BLACK, |s| s.outbound_mib),
    ];
    for (name, color, f) in series {
        c.draw_series(LineSeries::new(k.samples.iter().map(|s| (min(s), f(s))), color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;

    let l1 = k.samples.iter().map(|s| s.p99_ms.max(s.history_p99_ms).max(s.cpu_cores * 100.0)).fold(1.0, f64::max);
    let mut c = ChartBuilder::on(&bottom)
        .margin(10)
        .caption("delivery p50/p99 and history page p99 (ms), server CPU (% of a core)", ("sans-serif", 12))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x1, (0.1f64..l1 * 1.5).log_scale())
        .map_err(err)?;
    c.configure_mesh().x_desc("minutes").draw().map_err(err)?;
    let series: [(&str, RGBColor, Pick); 4] = [
        ("p50", BLUE, |s| s.p50_ms),
        ("p99", RED, |s| s.p99_ms),
        ("history p99", GREEN, |s| s.history_p99_ms),
        ("CPU %", BLACK, |s| s.cpu_cores * 100.0),
    ];
    for (name, color, f) in series {
        let pts = k.samples.iter().filter(|s| f(s) > 0.0).map(|s| (min(s), f(s).max(0.1)));
        c.draw_series(LineSeries::new(pts, color.stroke_width(1)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
