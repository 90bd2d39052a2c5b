//! The embedded web client against the real binary: how its pages and files
//! are served, and the browser stories of `tests/web/stories.mjs` (chat),
//! `tests/web/friends.mjs` (friends and blocking), `tests/web/messages.mjs`
//! (message actions) and `tests/web/voice.mjs` (voice) in headless Chromium (Debian's
//! `/usr/bin/chromium`, driven by playwright-core).
//!
//! Without node, Chromium or `tests/web/node_modules` the browser stories are
//! SKIPPED with a loud note, except under `CI=true`, where they must run.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use support::{Launch, Running};
use tokio::process::Command;

/// The browser stories take well under a minute; this is a hang guard.
const STORIES_TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Start `hearth serve` on a fresh data dir; the server and `http://ADDR`.
async fn start() -> (Running, String) {
    let server = Launch::serve()
        .args(["--workers", "2"])
        // Cheap password hashing keeps sign-ups fast; production uses the defaults.
        .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"])
        // Two people on one loopback address send bursts the default limits would slow.
        .args(["--rate-limit-scale", "10"])
        // The outage story must outlast the resume grace to force a new IDENTIFY.
        .args(["--resume-grace-secs", "2"])
        .env("RUST_LOG", "warn")
        .start()
        .await;
    let base = server.url("");
    (server, base)
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_files_are_served_with_a_strict_policy() {
    let (_server, base) = start().await;
    let http = support::http::client();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    // Every client route is the same single page, with the policy on it.
    for path in ["/", "/login", "/register", "/invite/AbCdEfGh23", "/channels/@me", "/channels/1/2", "/channels/1/2/3"]
    {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8", "{path}");
        let csp = header(&res, "content-security-policy");
        for part in ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        let host = base.trim_start_matches("http://");
        assert!(csp.contains(&format!("connect-src 'self' ws://{host} wss://{host}")), "{csp}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer");
        assert!(res.text().await.unwrap().contains(r#"<script type="module" src="/assets/js/app.js">"#));
    }

    // Files: right types, revalidated by ETag.
    for (path, ty) in [
        ("/assets/js/app.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), ty, "{path}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        let etag = header(&res, "etag").to_string();
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");
        let again = http.get(format!("{base}{path}")).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }

    // What is not the client keeps its JSON 404; /api stays the API's.
    for path in
        ["/api/v1/nope", "/api/v1", "/nope", "/assets/nope.js", "/assets/index.html", "/assets/js/../index.html"]
    {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(header(&res, "content-type"), "application/json", "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }
}

/// What the browser stories need, or why they cannot run here.
fn browser_setup() -> Result<(PathBuf, PathBuf), String> {
    let dir = root().join("tests/web");
    let chromium =
        std::env::var_os("HEARTH_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("{} not found (apt-get install chromium)", chromium.display()));
    }
    let node_ok = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !node_ok {
        return Err("node not found (apt-get install nodejs npm)".into());
    }
    if !dir.join("node_modules/playwright-core/package.json").exists() {
        return Err("tests/web/node_modules missing (run `npm ci` in tests/web)".into());
    }
    Ok((dir, chromium))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_stories() {
    run_browser_script("stories.mjs").await;
}

/// Friends, blocking and privacy through the web client (`tests/web/friends.mjs`):
/// a friend request by username and its acceptance with the keyboard, the
/// pending badge, a DM between friends, blocking from the member card with
/// blocked messages behind a click-to-reveal marker, the privacy settings,
/// and screenshots in both themes and at phone size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_friends_stories() {
    run_browser_script("friends.mjs").await;
}

/// Message actions through the web client (`tests/web/messages.mjs`): edit
/// in place (Up arrow, Escape), delete with and without the confirmation,
/// replies (ping toggle, jump to the original, a deleted original, history
/// loaded around an old one), reactions (quick, picker, counts on the other
/// page, toggling), pins (panel, system line), mention autocomplete and
/// highlighting, embeds rendered safely, message links, the keyboard, the
/// composer's length counter, permission descriptions, and screenshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_message_stories() {
    run_browser_script("messages.mjs").await;
}

/// Voice through the web client (`tests/web/voice.mjs`): two pages join a
/// voice channel by clicking it and each receives the other's audio through
/// the SFU (getStats), mute/deafen stop it, leave updates the other page, and
/// a refused microphone joins listen-only with an explanation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_voice_stories() {
    run_browser_script("voice.mjs").await;
}

/// Browser scripts running at once: each drives two or more Chromium pages,
/// and the voice story's timing suffers when four share two cores.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Run one script of `tests/web/` against a fresh server, or skip (see the
/// top of this file).
async fn run_browser_script(script: &str) {
    let (dir, chromium) = match browser_setup() {
        Ok(found) => found,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("\n######## SKIPPED: web client browser stories ({script}): {why} ########\n");
            return;
        }
        Err(why) => panic!("CI=true but the browser stories cannot run: {why}"),
    };
    let _turn = BROWSERS.acquire().await.expect("the semaphore is never closed");
    let (_server, base) = start().await;
    let artifacts = root().join("target/web-artifacts");
    let mut node = Command::new("node")
        .current_dir(&dir)
        .arg(script)
        .arg(&base)
        .arg(&artifacts)
        .env("HEARTH_CHROMIUM", &chromium)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let status = tokio::time::timeout(STORIES_TIMEOUT, node.wait())
        .await
        .unwrap_or_else(|_| panic!("{script} hung"))
        .expect("wait for node");
    assert!(status.success(), "{script} failed ({status}); screenshots in {}", artifacts.display());
}
