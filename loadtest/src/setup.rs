//! Accounts, guilds and channels for a scenario, made through Hearth's REST
//! API (register, login, create guild, invite, join) concurrently and spread
//! over the source addresses — or reused from a `--state` file.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::options::Common;

const PASSWORD: &str = "loadtest-password";
/// Attempts per REST request (429s are retried after `retry_after_ms`).
const ATTEMPTS: usize = 8;

/// One guild to create: who is in it (user indices, the first owns it) and how many text channels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GuildPlan {
    /// Members by user index; the first creates the guild.
    pub members: Vec<usize>,
    /// Text channels (at least 1: `general` comes with the guild).
    pub channels: usize,
}

/// Everything a scenario needs to exist on the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Layout {
    /// Accounts.
    pub users: usize,
    /// Guilds.
    pub guilds: Vec<GuildPlan>,
}

/// An account and its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Bearer token.
    pub token: String,
}

/// A created guild.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guild {
    /// Guild id.
    pub id: u64,
    /// Its text channels, `general` first.
    pub channels: Vec<u64>,
}

/// What exists on the server for a layout (the `--state` file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Server it was made on.
    pub addr: String,
    /// What was asked for.
    pub layout: Layout,
    /// Accounts, by index.
    pub users: Vec<User>,
    /// Guilds, in layout order.
    pub guilds: Vec<Guild>,
}

/// REST calls spread over source addresses.
pub(crate) struct Rest {
    clients: Vec<reqwest::Client>,
    base: String,
    next: AtomicUsize,
}

impl Rest {
    pub(crate) fn new(c: &Common) -> anyhow::Result<Rest> {
        let clients = (0..usize::from(c.sources.max(1)))
            .map(|i| {
                reqwest::Client::builder()
                    .local_address(crate::net::source_ip(i, c.sources))
                    .timeout(Duration::from_secs(60))
                    .pool_max_idle_per_host(c.setup_concurrency)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rest { clients, base: format!("http://{}/api/v1", c.addr), next: AtomicUsize::new(0) })
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        for _ in 0..ATTEMPTS {
            let client = &self.clients[self.next.fetch_add(1, Relaxed) % self.clients.len()];
            let mut req = client.request(method.clone(), format!("{}{}", self.base, path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = req.send().await.with_context(|| format!("{method} {path}"))?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(v);
            }
            if status.as_u16() == 429 {
                let wait = v["retry_after_ms"].as_u64().unwrap_or(100).clamp(1, 5000);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
            bail!("{method} {path}: {status} {v}");
        }
        bail!("{method} {path}: still rate limited after {ATTEMPTS} attempts (start the server with a higher --rate-limit-scale)")
    }
}

pub(crate) fn id(v: &Value) -> anyhow::Result<u64> {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64()).ok_or_else(|| anyhow!("not an id: {v}"))
}

/// Load the state file if it fits `layout` on this server, else create everything and write it.
pub async fn ensure(c: &Common, layout: &Layout) -> anyhow::Result<State> {
    let rest = Rest::new(c)?;
    if let Some(path) = &c.state {
        if let Some(s) = load(path, c, layout, &rest).await {
            if !c.quiet {
                eprintln!("reusing {} accounts and {} guilds from {}", s.users.len(), s.guilds.len(), path.display());
            }
            return Ok(s);
        }
    }
    let state = create(c, layout, &rest).await?;
    if let Some(path) = &c.state {
        std::fs::write(path, serde_json::to_vec(&state)?).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(state)
}

async fn load(path: &Path, c: &Common, layout: &Layout, rest: &Rest) -> Option<State> {
    let s: State = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if s.addr != c.addr.to_string() || !(s.layout == *layout || one_guild_prefix(&s.layout, layout)) {
        return None;
    }
    // Still valid on this server (the data directory may have been wiped)?
    rest.call(reqwest::Method::GET, "/users/@me", Some(&s.users.first()?.token), None).await.ok()?;
    Some(s)
}

/// A one-guild layout with everyone in it serves any smaller one: the first users are used.
fn one_guild_prefix(have: &Layout, want: &Layout) -> bool {
    let all_in = |l: &Layout| l.guilds.len() == 1 && l.guilds[0].members.iter().copied().eq(0..l.users);
    all_in(have) && all_in(want) && have.users >= want.users && have.guilds[0].channels >= want.guilds[0].channels
}

async fn create(c: &Common, layout: &Layout, rest: &Rest) -> anyhow::Result<State> {
    let tag = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
        % 1_000_000_000;
    let bar = crate::report::bar(c, layout.users as u64, "accounts");
    let users: Vec<User> = stream::iter(0..layout.users)
        .map(|i| {
            let bar = &bar;
            async move {
                let name = format!("lt{tag}_{i}");
                let body = json!({"username": name, "password": PASSWORD});
                rest.call(reqwest::Method::POST, "/auth/register", None, Some(body.clone())).await?;
                let login = rest.call(reqwest::Method::POST, "/auth/login", None, Some(body)).await?;
                let token = login["token"].as_str().ok_or_else(|| anyhow!("login: no token"))?.to_string();
                bar.inc(1);
                Ok::<_, anyhow::Error>(User { name, token })
            }
        })
        .buffered(c.setup_concurrency.max(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();

    let mut guilds = Vec::with_capacity(layout.guilds.len());
    let mut invites = Vec::with_capacity(layout.guilds.len());
    for (gi, plan) in layout.guilds.iter().enumerate() {
        let owner = &users[*plan.members.first().ok_or_else(|| anyhow!("guild without members"))?].token;
        let g = rest
            .call(reqwest::Method::POST, "/guilds", Some(owner), Some(json!({"name": format!("loadtest {gi}")})))
            .await?;
        let gid = id(&g["id"])?;
        let chans = rest.call(reqwest::Method::GET, &format!("/guilds/{gid}/channels"), Some(owner), None).await?;
        let general = chans
            .as_array()
            .and_then(|a| a.iter().find(|ch| ch["kind"] == "text"))
            .ok_or_else(|| anyhow!("guild {gid} has no text channel"))?;
        let mut channels = vec![id(&general["id"])?];
        for n in 1..plan.channels.max(1) {
            let ch = rest
                .call(
                    reqwest::Method::POST,
                    &format!("/guilds/{gid}/channels"),
                    Some(owner),
                    Some(json!({"name": format!("load-{n}")})),
                )
                .await?;
            channels.push(id(&ch["id"])?);
        }
        let inv = rest
            .call(
                reqwest::Method::POST,
                &format!("/channels/{}/invites", channels[0]),
                Some(owner),
                Some(json!({"max_age_secs": 0})),
            )
            .await?;
        invites.push(inv["code"].as_str().ok_or_else(|| anyhow!("invite: no code"))?.to_string());
        guilds.push(Guild { id: gid, channels });
    }

    let joins: Vec<(usize, usize)> =
        layout.guilds.iter().enumerate().flat_map(|(gi, p)| p.members.iter().skip(1).map(move |&u| (gi, u))).collect();
    let bar = crate::report::bar(c, joins.len() as u64, "joins");
    stream::iter(joins)
        .map(|(gi, u)| {
            let (bar, users, invites) = (&bar, &users, &invites);
            async move {
                rest.call(reqwest::Method::POST, &format!("/invites/{}", invites[gi]), Some(&users[u].token), None)
                    .await?;
                bar.inc(1);
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(c.setup_concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    bar.finish_and_clear();
    Ok(State { addr: c.addr.to_string(), layout: layout.clone(), users, guilds })
}
