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
