//! Accounts and login sessions: registering, logging in, profiles, listing and
//! revoking logins, changing the password, and what the store keeps of it all.

use crate::common::*;

use base64::Engine;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Helpers local to this module.
// ---------------------------------------------------------------------------

/// Assert an error body is `{code, message}` with the given status and code.
fn assert_error(st: u16, body: &Value, status: u16, code: &str, what: &str) {
    assert_eq!(st, status, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: error without a message: {body}");
}

async fn register(s: &Server, username: &str, password: &str) -> (u16, Value) {
    req(s, "POST", "/auth/register", None, Some(json!({"username": username, "password": password}))).await
}

async fn login_as(s: &Server, username: &str, password: &str, client: &str) -> (u16, Value) {
    req(s, "POST", "/auth/login", None, Some(json!({"username": username, "password": password, "client": client})))
        .await
}

/// A successful login: the user with the new token, and the login session's id.
async fn login(s: &Server, username: &str, password: &str, client: &str) -> (User, u64) {
    let (st, l) = login_as(s, username, password, client).await;
    assert_eq!(st, 200, "login {username}: {l}");
    let user =
        User { id: id(&l["user"]["id"]), name: username.to_string(), token: l["token"].as_str().unwrap().to_string() };
    (user, id(&l["session_id"]))
}

/// Every key anywhere in a JSON value.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn assert_no_secrets(v: &Value, what: &str) {
    let mut ks = Vec::new();
    keys(v, &mut ks);
    for k in ks {
        let k = k.to_lowercase();
        assert!(!k.contains("hash") && !k.contains("password") && !k.contains("token"), "{what} exposes {k}: {v}");
    }
}

/// The token still works over REST.
async fn works(s: &Server, u: &User) -> bool {
    let (st, me) = u.get(s, "/users/@me").await;
    match st {
        200 => {
            assert_eq!(id(&me["id"]), u.id);
            true
        }
        401 => {
            assert_eq!(me["code"], "unauthorized", "{me}");
            false
        }
        other => panic!("GET /users/@me: {other} {me}"),
    }
}

/// The gateway connection is still served: a heartbeat is acknowledged.
async fn still_served(gw: &mut Gw) {
    gw.send(1, json!(null)).await;
    gw.op(11).await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Stories.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_and_logging_in() {
    let s = Server::start().await;

    // Registering answers 201 with the public user, never the password hash.
    let (st, u) = register(&s, "Alice", "correct horse").await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["username"], "Alice", "case is preserved");
    assert!(u["display_name"].is_null());
    let alice_id = id(&u["id"]);
    assert!(u["created_at"].as_u64().unwrap() > 1_735_689_600_000);
    assert_no_secrets(&u, "register");

    // Usernames are unique case-insensitively.
    for name in ["alice", "ALICE", "aLiCe"] {
        let (st, v) = register(&s, name, "another password").await;
        assert_error(st, &v, 409, "username_taken", name);
    }
    let (st, v) = register(&s, "Jörg", "password123").await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = register(&s, "JÖRG", "password123").await;
    assert_error(st, &v, 409, "username_taken", "JÖRG after Jörg");

    // Usernames: 2–32 letters, digits, '_', '.', '-'.
    let too_long = "x".repeat(33);
    for name in ["a", "", too_long.as_str(), "has space", " alice2", "semi;colon", "tab\tname"] {
        let (st, v) = register(&s, name, "password123").await;
        assert_error(st, &v, 400, "invalid_body", &format!("username {name:?}"));
    }
    let (st, v) = register(&s, &"y".repeat(32), "password123").await;
    assert_eq!(st, 201, "32 characters is allowed: {v}");
    let (st, v) = register(&s, "b2", "password123").await;
    assert_eq!(st, 201, "2 characters is allowed: {v}");
    // Passwords: at least 8 characters (and not absurdly long).
    for pw in ["", "short", "7chars!"] {
        let (st, v) = register(&s, "bob", pw).await;
        assert_error(st, &v, 400, "invalid_body", &format!("password {pw:?}"));
    }
    let (st, v) = register(&s, "bob", &"p".repeat(257)).await;
    assert_error(st, &v, 400, "invalid_body", "257-character password");
    // Missing fields.
    let (st, v) = req(&s, "POST", "/auth/register", None, Some(json!({"username": "bob"}))).await;
    assert_error(st, &v, 400, "invalid_body", "no password");
    // None of the refused attempts created "bob".
    let (st, v) = login_as(&s, "bob", "password123", "t").await;
    assert_error(st, &v, 401, "invalid_credentials", "refused registration");
    let (st, _) = register(&s, "bob", "8chars!!").await;
    assert_eq!(st, 201, "exactly 8 characters is allowed");

    // Wrong password and unknown user look the same.
    let (st, wrong) = login_as(&s, "Alice", "wrong horse", "t").await;
    assert_error(st, &wrong, 401, "invalid_credentials", "wrong password");
    let (st, unknown) = login_as(&s, "nobody", "correct horse", "t").await;
    assert_error(st, &unknown, 401, "invalid_credentials", "unknown user");
    assert_eq!(wrong, unknown, "the answer must not reveal whether the user exists");
    let (st, v) = login_as(&s, "Alice", "Correct horse", "t").await;
    assert_error(st, &v, 401, "invalid_credentials", "password is case-sensitive");

    // Login is case-insensitive on the username and returns a fresh token each time.
    let mut tokens = Vec::new();
    for name in ["alice", "ALICE", "Alice"] {
        let (st, l) = login_as(&s, name, "correct horse", "t").await;
        assert_eq!(st, 200, "{name}: {l}");
        assert_eq!(id(&l["user"]["id"]), alice_id);
        assert_eq!(l["user"]["username"], "Alice");
        assert_no_secrets(&l["user"], "login user");
        let token = l["token"].as_str().unwrap().to_string();
        // 256 random bits as URL-safe base64 without padding: 43 characters.
        assert_eq!(token.len(), 43, "{token}");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{token}");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).expect("URL-safe base64");
        assert_eq!(raw.len(), 32);
        tokens.push(token);
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "every login gets its own token");

    // GET /users/@me and GET /users/{id}.
    let (alice, _) = login(&s, "alice", "correct horse", "laptop").await;
    let (bob, _) = login(&s, "bob", "8chars!!", "phone").await;
    let (st, me) = alice.get(&s, "/users/@me").await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(id(&me["id"]), alice_id);
    assert_eq!(me["username"], "Alice");
    assert_no_secrets(&me, "/users/@me");
    let (st, other) = alice.get(&s, &format!("/users/{}", bob.id)).await;
    assert_eq!(st, 200, "{other}");
    assert_eq!(other["username"], "bob");
    assert_no_secrets(&other, "/users/{id}");
    let (st, v) = alice.get(&s, "/users/424242").await;
    assert_error(st, &v, 404, "unknown_user", "unknown user id");
    let (st, v) = req(&s, "GET", &format!("/users/{}", bob.id), None, None).await;
    assert_error(st, &v, 401, "unauthorized", "users/{id} without a token");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_change_reaches_every_live_session() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (alice_phone, _) = login(&s, "alice", "password123", "phone").await;
    let bob = s.user("bob").await;
    let (mut laptop, ready) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    assert!(ready["user"]["display_name"].is_null());
    let (mut phone, _) = Gw::identify(&s, &alice_phone, Enc::Json).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;

    let (st, u) = alice.patch(&s, "/users/@me", json!({"display_name": "  Alice A.  "})).await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["display_name"], "Alice A.", "trimmed");
    assert_eq!(u["username"], "alice", "username unchanged");
    assert_no_secrets(&u, "PATCH /users/@me");
    // Both of Alice's sessions hear about it; Bob does not get her USER_UPDATE.
    for gw in [&mut laptop, &mut phone] {
        let upd = gw.dispatch("USER_UPDATE").await;
        assert_eq!(id(&upd["id"]), alice.id);
        assert_eq!(upd["display_name"], "Alice A.");
    }
    b.expect_none("USER_UPDATE").await;
    // Everyone reads the new name.
    let (_, me) = alice_phone.get(&s, "/users/@me").await;
    assert_eq!(me["display_name"], "Alice A.");
    let (_, seen) = bob.get(&s, &format!("/users/{}", alice.id)).await;
    assert_eq!(seen["display_name"], "Alice A.");
    // A new session starts with it.
    let (_, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    assert_eq!(ready["user"]["display_name"], "Alice A.");

    // Too long, or control characters: refused, nothing changes, no event.
    for bad in ["x".repeat(33), "bell\u{7}".to_string()] {
        let (st, v) = alice.patch(&s, "/users/@me", json!({"display_name": bad})).await;
        assert_error(st, &v, 400, "invalid_body", &format!("display_name {bad:?}"));
    }
    let (st, v) = alice.patch(&s, "/users/@me", json!({"display_name": 5})).await;
    assert_error(st, &v, 400, "invalid_body", "display_name as a number");
    laptop.expect_none("USER_UPDATE").await;
    let (_, me) = alice.get(&s, "/users/@me").await;
    assert_eq!(me["display_name"], "Alice A.");

    // An empty display name clears it.
    let (st, u) = alice.patch(&s, "/users/@me", json!({"display_name": ""})).await;
    assert_eq!(st, 200, "{u}");
    assert!(u["display_name"].is_null(), "{u}");
    let upd = phone.dispatch("USER_UPDATE").await;
    assert!(upd["display_name"].is_null(), "{upd}");
    still_served(&mut laptop).await;
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sessions_are_listed_and_revoked_one_by_one() {
    let s = Server::start().await;
    let bob = s.user("bob").await;
    let (_, pw) = register(&s, "alice", "password123").await;
    assert_eq!(pw["username"], "alice");
    let (laptop, laptop_sid) = login(&s, "alice", "password123", "laptop").await;
    let (phone, phone_sid) = login(&s, "alice", "password123", "phone").await;
    let (tablet, tablet_sid) = login(&s, "alice", "password123", "tablet").await;
    let (mut gw_laptop, _) = Gw::identify(&s, &laptop, Enc::MsgPack).await;
    let (mut gw_phone, _) = Gw::identify(&s, &phone, Enc::Json).await;
    let (mut gw_tablet, _) = Gw::identify(&s, &tablet, Enc::Json).await;
    // A second gateway connection on the phone's token.
    let (mut gw_phone2, _) = Gw::identify(&s, &phone, Enc::MsgPack).await;

    // The list shows every login, with exactly one marked current (the caller's).
    let (st, list) = laptop.get(&s, "/users/@me/sessions").await;
    assert_eq!(st, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 3, "{list:?}");
    let mut ids: Vec<u64> = list.iter().map(|x| id(&x["id"])).collect();
    ids.sort();
    let mut expected = vec![laptop_sid, phone_sid, tablet_sid];
    expected.sort();
    assert_eq!(ids, expected);
    let current: Vec<&Value> = list.iter().filter(|x| x["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert_eq!(id(&current[0]["id"]), laptop_sid);
    assert_eq!(current[0]["client"], "laptop");
    assert!(list.iter().all(|x| x["current"].is_boolean()));
    assert!(list.iter().all(|x| x["created_at"].as_u64().is_some()));
    assert_no_secrets(&Value::Array(list.clone()), "session list");
    // From the phone, the phone is the current one.
    let (_, list) = phone.get(&s, "/users/@me/sessions").await;
    let current: Vec<u64> =
        list.as_array().unwrap().iter().filter(|x| x["current"] == true).map(|x| id(&x["id"])).collect();
    assert_eq!(current, [phone_sid]);

    // The laptop revokes the phone: its token stops working and both its connections close.
    let (st, v) = laptop.delete(&s, &format!("/users/@me/sessions/{phone_sid}")).await;
    assert_eq!(st, 204, "{v}");
    assert!(!works(&s, &phone).await, "revoked token still works");
    gw_phone.expect_close(4022).await;
    gw_phone2.expect_close(4022).await;
    // Every other login is untouched.
    assert!(works(&s, &laptop).await);
    assert!(works(&s, &tablet).await);
    still_served(&mut gw_laptop).await;
    still_served(&mut gw_tablet).await;
    // The revoked token cannot identify again.
    let mut gw = Gw::connect(&s, Enc::Json).await;
    gw.send(2, json!({"token": phone.token})).await;
    gw.expect_close(4004).await;
    // Revoking it again, or someone else's login, is unknown_session.
    let (st, v) = laptop.delete(&s, &format!("/users/@me/sessions/{phone_sid}")).await;
    assert_error(st, &v, 404, "unknown_session", "already revoked");
    let (_, bob_sessions) = bob.get(&s, "/users/@me/sessions").await;
    let bob_sid = id(&bob_sessions[0]["id"]);
    let (st, v) = laptop.delete(&s, &format!("/users/@me/sessions/{bob_sid}")).await;
    assert_error(st, &v, 404, "unknown_session", "someone else's session");
    assert!(works(&s, &bob).await, "bob's login must survive alice's attempt");
    let (st, v) = laptop.delete(&s, "/users/@me/sessions/abc").await;
    assert_error(st, &v, 404, "not_found", "non-numeric session id");

    // The tablet logs out: its token stops working and its connection closes.
    let (st, v) = req(&s, "POST", "/auth/logout", Some(&tablet.token), None).await;
    assert_eq!(st, 204, "{v}");
    assert!(!works(&s, &tablet).await, "logged-out token still works");
    gw_tablet.expect_close(4022).await;
    let (st, v) = req(&s, "POST", "/auth/logout", Some(&tablet.token), None).await;
    assert_error(st, &v, 401, "unauthorized", "logout twice");
    let mut gw = Gw::connect(&s, Enc::MsgPack).await;
    gw.send(2, json!({"token": tablet.token})).await;
    gw.expect_close(4004).await;

    // Only the laptop is left, and it is still served.
    let (_, list) = laptop.get(&s, "/users/@me/sessions").await;
    let ids: Vec<u64> = list.as_array().unwrap().iter().map(|x| id(&x["id"])).collect();
    assert_eq!(ids, [laptop_sid]);
    still_served(&mut gw_laptop).await;
    assert!(matches!(gw_laptop.next_within(QUIET).await, Err(())), "the laptop's connection must stay open");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_signs_out_every_other_login() {
    let s = Server::start().await;
    let (st, _) = register(&s, "alice", "old password 1").await;
    assert_eq!(st, 201);
    let (desk, _) = login(&s, "alice", "old password 1", "desk").await;
    let (phone, _) = login(&s, "alice", "old password 1", "phone").await;
    let (mut gw_desk, _) = Gw::identify(&s, &desk, Enc::Json).await;
    let (mut gw_phone, _) = Gw::identify(&s, &phone, Enc::MsgPack).await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    // The wrong current password changes nothing.
    let (st, v) = desk.post(&s, "/users/@me/password", change("not my password", "new password 2")).await;
    assert_error(st, &v, 401, "invalid_credentials", "wrong current password");
    // A new password that is too short changes nothing either.
    let (st, v) = desk.post(&s, "/users/@me/password", change("old password 1", "short")).await;
    assert_error(st, &v, 400, "invalid_body", "short new password");
    let (st, v) = desk.post(&s, "/users/@me/password", json!({"new_password": "new password 2"})).await;
    assert_error(st, &v, 400, "invalid_body", "no current password");
    let (st, v) = req(&s, "POST", "/users/@me/password", None, Some(change("old password 1", "new password 2"))).await;
    assert_error(st, &v, 401, "unauthorized", "password change without a token");
    assert!(works(&s, &phone).await);
    still_served(&mut gw_phone).await;
    let (st, _) = login_as(&s, "alice", "old password 1", "check").await;
    assert_eq!(st, 200, "the old password still works after refused changes");
    let (st, _) = login_as(&s, "alice", "new password 2", "check").await;
    assert_eq!(st, 401);
    // (Clean up the "check" login so only desk and phone remain.)
    let (_, list) = desk.get(&s, "/users/@me/sessions").await;
    let check: Vec<u64> =
        list.as_array().unwrap().iter().filter(|x| x["client"] == "check").map(|x| id(&x["id"])).collect();
    assert_eq!(check.len(), 1);
    let (st, _) = desk.delete(&s, &format!("/users/@me/sessions/{}", check[0])).await;
    assert_eq!(st, 204);

    // The right current password: 204, every other login is signed out.
    let (st, v) = desk.post(&s, "/users/@me/password", change("old password 1", "new password 2")).await;
    assert_eq!(st, 204, "{v}");
    assert!(!works(&s, &phone).await, "the other login must be revoked");
    gw_phone.expect_close(4022).await;
    let mut gw = Gw::connect(&s, Enc::Json).await;
    gw.send(2, json!({"token": phone.token})).await;
    gw.expect_close(4004).await;
    // The login that changed it keeps working, over REST and on its live connection.
    assert!(works(&s, &desk).await);
    still_served(&mut gw_desk).await;
    assert!(matches!(gw_desk.next_within(QUIET).await, Err(())), "the current login's connection must stay open");
    let (_, list) = desk.get(&s, "/users/@me/sessions").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["current"], true);

    // Old password no longer logs in; the new one does.
    let (st, v) = login_as(&s, "alice", "old password 1", "again").await;
    assert_error(st, &v, 401, "invalid_credentials", "old password");
    let (fresh, _) = login(&s, "alice", "new password 2", "again").await;
    assert!(works(&s, &fresh).await);
    let (_, ready) = Gw::identify(&s, &fresh, Enc::MsgPack).await;
    assert_eq!(ready["user"]["username"], "alice");

    // The store keeps neither tokens nor passwords in plain text. Stop the
    // server first so everything is on disk.
    let display = "Findable Display";
    let (st, _) = desk.patch(&s, "/users/@me", json!({"display_name": display})).await;
    assert_eq!(st, 200);
    assert!(!s.logged_panic());
    let mut s = s;
    s.terminate().await;
    let bytes = std::fs::read(s.data.join("hearth.redb")).expect("read the redb file");
    // The file is the live one: what was stored in plain text is there.
    assert!(contains(&bytes, display.as_bytes()), "display name not found: wrong file?");
    for (what, secret) in [
        ("desk token", desk.token.as_str()),
        ("revoked phone token", phone.token.as_str()),
        ("fresh token", fresh.token.as_str()),
        ("old password", "old password 1"),
        ("new password", "new password 2"),
    ] {
        assert!(!contains(&bytes, secret.as_bytes()), "{what} is stored in plain text");
    }
    for t in [&desk.token, &phone.token, &fresh.token] {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).unwrap();
        assert!(!contains(&bytes, &raw), "a token's raw bytes are stored");
    }
}

/// PATCH changes only the fields it names: a body without `display_name`
/// leaves the display name alone (as PATCH of a member's `nick` or a channel's
/// `topic` does), and only `null` or `""` clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_me_without_a_display_name_keeps_it() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (st, u) = alice.patch(&s, "/users/@me", json!({"display_name": "Ally"})).await;
    assert_eq!(st, 200, "{u}");
    let (mut gw, _) = Gw::identify(&s, &alice, Enc::Json).await;

    // An empty PATCH changes nothing and says so (docs/api.md, "Changing things with PATCH").
    let (st, u) = alice.patch(&s, "/users/@me", json!({})).await;
    assert_eq!((st, u["code"].as_str()), (400, Some("invalid_body")), "{u}");
    let (_, me) = alice.get(&s, "/users/@me").await;
    assert_eq!(me["display_name"], "Ally");

    // Explicit null clears it.
    let (st, u) = alice.patch(&s, "/users/@me", json!({"display_name": null})).await;
    assert_eq!(st, 200, "{u}");
    assert!(u["display_name"].is_null(), "{u}");
    let upd = gw.dispatch_where("USER_UPDATE", |d| d["display_name"].is_null()).await;
    assert_eq!(id(&upd["id"]), alice.id);
}
