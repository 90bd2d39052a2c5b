//! `hearth-loadtest`: drives a Hearth server (or a reference server) with real
//! WebSocket clients and reports throughput, latency, losses and the cost on
//! the server.
//!
//! Layout: [`options`] holds the options every scenario shares; [`cli`] puts
//! them together with the scenario to run (`main` alone reads it); each
//! scenario is one module under [`scenarios`] (registered in
//! `scenarios::Scenario`, with its own arguments); each
//! target protocol is one client module under [`targets`]; [`setup`] creates
//! accounts and guilds over REST; [`stats`] collects deliveries and latencies;
//! [`report`] prints, writes JSON and draws the SVG ([`svg`]); [`procstat`]
//! reads CPU and memory of this process and of the server; [`net`] spreads
//! clients over loopback source addresses. The soak adds [`history`] (REST
//! history scrolling), [`scrape`] (the server's gauges from `/metrics`) and
//! [`slope`] (its memory verdict, pure).

mod cli;
mod history;
mod net;
mod options;
mod procstat;
mod report;
mod scenarios;
mod scrape;
mod setup;
mod slope;
mod stats;
mod svg;
mod targets;
mod wire;

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let nofile = net::raise_nofile_limit();
    let rt = if cli.common.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(cli.common.threads).enable_all().build()
    }
    .context("tokio runtime")?;
    let report = rt.block_on(scenarios::run(&cli.common, &cli.scenario, nofile))?;
    report::finish(&cli.common, &report)
}
