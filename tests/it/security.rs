//! Attacks from the hostile-user review, each replayed against the real
//! server: memory exhaustion through password hashing, guessing passwords
//! through the password-change route, locking an owner out of their account,
//! writes through empty PATCH bodies, missing response headers, telling known
//! from unknown usernames by timing, and impersonation with invisible or
//! bidirectional characters. Different client addresses are real: each client
//! binds its socket to its own 127.0.0.x address.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// A client whose connections come from `ip` (any 127.0.0.0/8 address works on Linux).
fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().unwrap();
    reqwest::Client::builder().local_address(ip).timeout(Duration::from_secs(60)).build().unwrap()
}

/// POST a JSON body with `client`; returns status, body and the Retry-After header.
async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> (u16, Value, Option<String>) {
    let mut r = client.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), retry)
}

async fn login_from(s: &Server, ip: &str, username: &str, password: &str) -> (u16, Value) {
    let (st, body, _) =
        post(&client_from(ip), s.api("/auth/login"), None, json!({"username": username, "password": password})).await;
    (st, body)
}

/// Attack: 200 parallel failed logins from ten addresses (each within its
/// per-address limit) plus a stream of wrong password changes, at the default
/// argon2 cost of 19 MiB. Without a bound each runs its own hash at once and
/// the server grows by gigabytes; with it, the server stays within 64 MiB of
/// where it started, refuses the excess with 503 `overloaded` and
/// Retry-After, and a legitimate user still logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_cannot_exhaust_memory_through_password_hashing() {
    let s = Server::start_with(&[
        "--rate-limit-scale",
        "1",
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "2",
        "--argon2-threads",
        "2",
    ])
    .await;
    let alice = s.user("alice").await;
    let (st, _) =
        req(&s, "POST", "/auth/register", None, Some(json!({"username": "bob", "password": "bobs password"}))).await;
    assert_eq!(st, 201);
    let base = s.rss_kib();

    // Sample the server's memory while the flood runs.
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let pid_status = format!("/proc/{}/status", s.pid().expect("server running"));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = vm_rss(&pid_status) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let mut flood = Vec::new();
    for a in 0..10 {
        let client = client_from(&format!("127.0.0.{}", 10 + a));
        for i in 0..20 {
            let (client, url) = (client.clone(), s.api("/auth/login"));
            let name = format!("nobody{a}x{i}");
            flood.push(tokio::spawn(async move {
                post(&client, url, None, json!({"username": name, "password": "guess guess"})).await
            }));
        }
    }
    for _ in 0..190 {
        let (client, url, token) = (client_from("127.0.0.9"), s.api("/users/@me/password"), alice.token.clone());
        flood.push(tokio::spawn(async move {
            let body = json!({"current_password": "not it at all", "new_password": "new password 1"});
            post(&client, url, Some(&token), body).await
        }));
    }
    // Meanwhile Bob logs in from his own address, waiting as told when the server is busy.
    let deadline = Instant::now() + Duration::from_secs(30);
    let bob_client = client_from("127.0.0.2");
    let bob = loop {
        let (st, body, retry) =
            post(&bob_client, s.api("/auth/login"), None, json!({"username": "bob", "password": "bobs password"}))
                .await;
        if st == 200 {
            break body;
        }
        assert_eq!((st, body["code"].as_str()), (503, Some("overloaded")), "{body}");
        assert!(Instant::now() < deadline, "Bob could not log in during the flood");
        let wait: u64 = retry.expect("Retry-After on 503").parse().unwrap();
        tokio::time::sleep(Duration::from_secs(wait)).await;
    };
    assert!(bob["token"].is_string());

    let (mut refused, mut checked) = (0, 0);
    for t in flood {
        let (st, body, retry) = t.await.unwrap();
        match (st, body["code"].as_str()) {
            (401, Some("invalid_credentials")) => checked += 1,
            (503, Some("overloaded")) => {
                assert_eq!(retry.as_deref(), Some("1"));
                refused += 1;
            }
            (429, Some("rate_limited")) => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let grown_mib = peak.load(Ordering::Relaxed).saturating_sub(base) / 1024;
    eprintln!("flood: {checked} checked, {refused} refused; RSS {} MiB at start, grew {grown_mib} MiB", base / 1024);
    assert!(checked >= 34, "the pool and its queue were used ({checked} checked)");
    assert!(refused > 0, "past the queue, requests are refused at once");
    assert!(grown_mib < 64, "hashing took {grown_mib} MiB more than at start");
    assert!(!s.logged_panic());
}

fn vm_rss(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Attack: with a token (stolen, or a shared computer), guess the current
/// password on the password-change route. It now shares the login limits:
/// after five guesses from one address the route answers 429, whatever the
/// password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_change_route_is_not_an_unlimited_password_oracle() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let alice = s.user("alice").await;
    let client = client_from("127.0.0.3");
    let mut answers = Vec::new();
    for i in 0..30 {
        let body = json!({"current_password": format!("guess number {i}"), "new_password": "taken over!"});
        let (st, b, _) = post(&client, s.api("/users/@me/password"), Some(&alice.token), body).await;
        answers.push((st, b["code"].as_str().unwrap_or_default().to_string()));
    }
    let wrong = answers.iter().filter(|(st, _)| *st == 401).count();
    let limited = answers.iter().filter(|(st, c)| *st == 429 && c == "rate_limited").count();
    assert_eq!((wrong, limited), (5, 25), "{answers:?}");
    // The right password waits too: the limit is on attempts, not on failures.
    let body = json!({"current_password": "password123", "new_password": "taken over!"});
    let (st, _, retry) = post(&client, s.api("/users/@me/password"), Some(&alice.token), body).await;
    assert_eq!(st, 429);
    assert!(retry.is_some());
}

/// Attack: lock the owner out by failing logins to their account. A guesser
/// at one address is refused after five attempts; one spread over many
/// addresses only slows the account down. Either way the owner, from their
/// own address and with the right password, gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guesser_cannot_lock_the_owner_out() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let _alice = s.user("alice").await;
    for _ in 0..5 {
        assert_eq!(login_from(&s, "127.0.0.66", "alice", "not her password").await.0, 401);
    }
    let (st, e) = login_from(&s, "127.0.0.66", "alice", "password123").await;
    assert_eq!((st, e["code"].as_str()), (429, Some("rate_limited")), "the guesser is throttled: {e}");
    assert!(e["message"].as_str().unwrap().contains("login_per_account_ip"), "{e}");
    let (st, ok) = login_from(&s, "127.0.0.77", "alice", "password123").await;
    assert_eq!(st, 200, "the owner is locked out: {ok}");

    // Twenty guesses from ten more addresses exhaust the account-wide budget:
    // past it they are slowed down. The owner, logging in from yet another
    // address meanwhile, is slowed down too, but not refused.
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let s_api = s.api("/auth/login");
            let client = client_from(&format!("127.0.1.{}", i / 2 + 1));
            tokio::spawn(async move {
                let t = Instant::now();
                let (st, _, _) =
                    post(&client, s_api, None, json!({"username": "alice", "password": "still not it"})).await;
                (st, t.elapsed())
            })
        })
        .collect();
    let (st, ok) = login_from(&s, "127.0.0.78", "alice", "password123").await;
    assert_eq!(st, 200, "the owner is locked out: {ok}");
    let mut slowed = 0;
    for g in guesses {
        let (st, took) = g.await.unwrap();
        assert_eq!(st, 401, "guesses past the account's budget are slowed, not refused");
        if took >= Duration::from_millis(1500) {
            slowed += 1;
        }
    }
    assert!(slowed >= 10, "only {slowed} of 20 guesses were slowed down");
}

/// Attack: time logins to learn which usernames exist. With a non-default
/// argon2 cost, an unknown username must cost as much as a wrong password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_usernames_take_as_long_as_wrong_passwords() {
    let s = Server::start_with(&["--argon2-memory-kib", "65536", "--argon2-iterations", "3"]).await;
    let _alice = s.user("alice").await;
    let time = |username: &'static str| {
        let url = s.api("/auth/login");
        async move {
            let t = Instant::now();
            let (st, _, _) =
                post(&client_from("127.0.0.1"), url, None, json!({"username": username, "password": "wrong one"}))
                    .await;
            assert_eq!(st, 401);
            t.elapsed()
        }
    };
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        wrong.push(time("alice").await);
        unknown.push(time("nobody-here").await);
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[3].as_secs_f64(), unknown[3].as_secs_f64());
    eprintln!("median wrong password {:.1} ms, unknown user {:.1} ms", w * 1e3, u * 1e3);
    let ratio = u / w;
    assert!((0.5..=2.0).contains(&ratio), "unknown/wrong = {ratio:.2} ({u:.3} s vs {w:.3} s)");
}

/// Events a no-op PATCH must not cause.
const UPDATES: &[&str] = &["GUILD_UPDATE", "CHANNEL_UPDATE", "GUILD_ROLE_UPDATE", "GUILD_MEMBER_UPDATE", "USER_UPDATE"];

fn assert_nothing_to_change(what: &str, (st, body): (u16, Value)) {
    assert_eq!((st, body["code"].as_str()), (400, Some("invalid_body")), "{what}: {body}");
    assert!(body["message"].as_str().unwrap().contains("nothing to change"), "{what}: {body}");
}

/// Attack: `PATCH /guilds/{id}/members/{user}` with an empty body needed no
/// permission and still wrote and broadcast. Now every PATCH route refuses a
/// patch that names nothing (before any permission check), and a patch whose
/// values are already in place writes nothing and sends no event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_that_change_nothing_write_nothing_and_announce_nothing() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "Hall").await;
    bob.join(&s, &alice.invite(&s, general, json!({})).await).await;
    let (st, role) = alice.post(&s, &format!("/guilds/{gid}/roles"), json!({"name": "crew"})).await;
    assert_eq!(st, 201, "{role}");
    let rid = id(&role["id"]);
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;

    // Bob has no permission to change Alice: the empty body is refused, not written.
    assert_nothing_to_change(
        "member, no permission",
        bob.patch(&s, &format!("/guilds/{gid}/members/{}", alice.id), json!({})).await,
    );
    assert_nothing_to_change(
        "member, self",
        bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({})).await,
    );
    assert_nothing_to_change(
        "unknown fields only",
        bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({"joined_at": 1})).await,
    );
    assert_nothing_to_change("guild", alice.patch(&s, &format!("/guilds/{gid}"), json!({})).await);
    assert_nothing_to_change("channel", alice.patch(&s, &format!("/channels/{general}"), json!({})).await);
    assert_nothing_to_change("role", alice.patch(&s, &format!("/guilds/{gid}/roles/{rid}"), json!({})).await);
    assert_nothing_to_change("role order", alice.patch(&s, &format!("/guilds/{gid}/roles"), json!([])).await);
    assert_nothing_to_change("channel order", alice.patch(&s, &format!("/guilds/{gid}/channels"), json!([])).await);
    assert_nothing_to_change(
        "channel order, ids only",
        alice.patch(&s, &format!("/guilds/{gid}/channels"), json!([{"id": general.to_string()}])).await,
    );
    assert_nothing_to_change("user", alice.patch(&s, "/users/@me", json!({})).await);

    // Values already in place: 200 with the resource as it is, and no event.
    let same = [
        (format!("/guilds/{gid}"), json!({"name": "Hall"})),
        (format!("/channels/{general}"), json!({"name": "general", "topic": null})),
        (format!("/guilds/{gid}/roles/{rid}"), json!({"name": "crew", "hoist": false})),
        (format!("/guilds/{gid}/roles"), json!([{"id": rid.to_string(), "position": 1}])),
        (format!("/guilds/{gid}/channels"), json!([{"id": general.to_string(), "position": 0}])),
        (format!("/guilds/{gid}/members/{}", bob.id), json!({"nick": null, "mute": false, "roles": []})),
        ("/users/@me".to_string(), json!({"display_name": null})),
    ];
    for (path, body) in &same {
        let (st, got) = alice.patch(&s, path, body.clone()).await;
        assert_eq!(st, 200, "{path}: {got}");
    }
    for gw in [&mut a, &mut b] {
        for f in gw.drain(QUIET).await {
            let t = f.t.unwrap_or_default();
            assert!(!UPDATES.contains(&t.as_str()), "a patch that changed nothing sent {t}: {}", f.d);
        }
    }
    // A real change is announced (so the silence above means something).
    let (st, _) = alice.patch(&s, &format!("/guilds/{gid}"), json!({"name": "Great Hall"})).await;
    assert_eq!(st, 200);
    assert_eq!(b.dispatch("GUILD_UPDATE").await["name"], "Great Hall");
    let (_, m) = alice.get(&s, &format!("/guilds/{gid}/members/{}", alice.id)).await;
    assert!(m["nick"].is_null(), "{m}");
}

/// Attack: a browser sniffs an API answer quoting client input as HTML, or a
/// page frames the API. Every response, errors and 404s included, says
/// nosniff, no-store, no-referrer and DENY; the Content-Type error does not
/// quote the header back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let http = reqwest::Client::new();
    let evil = "text/html; x=<script>alert(1)</script>";
    let cases = [
        ("me", http.get(s.api("/users/@me")).bearer_auth(&alice.token), 200),
        ("login", http.post(s.api("/auth/login")).json(&json!({"username": "alice", "password": "password123"})), 200),
        ("no token", http.get(s.api("/users/@me")), 401),
        ("unknown api route", http.get(s.api("/no/such/route")), 404),
        ("unknown root route", http.get(s.url("/nope")), 404),
        ("wrong method", http.put(s.api("/auth/login")), 405),
        ("bad content type", http.post(s.api("/auth/login")).header("content-type", evil).body("{}"), 415),
        ("health", http.get(s.url("/healthz")), 200),
        ("gateway without upgrade", http.get(s.url("/gateway")), 400),
    ];
    for (what, request, status) in cases {
        let res = request.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{what}");
        let h = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("cache-control"), "no-store", "{what}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'"), "{what}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("<script>") && !body.contains("text/html"), "{what} echoes the request: {body}");
    }
    // The web client keeps its own caching and policy, and gets the rest.
    let res = http.get(s.url("/")).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
}

/// Attack: impersonate someone with invisible or bidirectional characters
/// ("admin" with a zero-width space, a right-to-left override flipping a
/// name). Those are refused wherever a name is shown; text is stored NFC;
/// emoji sequences and scripts that need joiners still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_refuse_invisible_and_direction_characters() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (gid, general) = alice.guild(&s, "g").await;
    let refused = [
        (
            "POST",
            "/auth/register".to_string(),
            json!({"username": "mallory", "password": "password123", "display_name": "al\u{202E}ice"}),
        ),
        ("PATCH", "/users/@me".to_string(), json!({"display_name": "ad\u{200B}min"})),
        ("POST", "/guilds".to_string(), json!({"name": "\u{2066}Official\u{2069}"})),
        ("PATCH", format!("/guilds/{gid}"), json!({"name": "\u{FEFF}g"})),
        ("POST", format!("/guilds/{gid}/channels"), json!({"name": "rules\u{202E}"})),
        ("PATCH", format!("/channels/{general}"), json!({"topic": "read \u{2067}this"})),
        ("POST", format!("/guilds/{gid}/roles"), json!({"name": "Mod\u{200F}"})),
        ("PATCH", format!("/guilds/{gid}/members/{}", alice.id), json!({"nick": "\u{3164}"})),
    ];
    for (method, path, body) in refused {
        let (st, e) = req(&s, method, &path, Some(&alice.token), Some(body.clone())).await;
        assert_eq!((st, e["code"].as_str()), (400, Some("invalid_body")), "{method} {path} {body}: {e}");
    }
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
    let persian = "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}";
    let (st, u) = alice.patch(&s, "/users/@me", json!({"display_name": family})).await;
    assert_eq!((st, u["display_name"].as_str()), (200, Some(family)), "{u}");
    let (st, c) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": persian})).await;
    assert_eq!((st, c["name"].as_str()), (201, Some(persian)), "{c}");
    let (st, g) = alice.post(&s, "/guilds", json!({"name": "Cafe\u{0301}"})).await;
    assert_eq!((st, g["name"].as_str()), (201, Some("Caf\u{00E9}")), "stored NFC: {g}");
    let (st, c) = alice.patch(&s, &format!("/channels/{general}"), json!({"topic": "two\nlines"})).await;
    assert_eq!((st, c["topic"].as_str()), (200, Some("two\nlines")), "{c}");
}
