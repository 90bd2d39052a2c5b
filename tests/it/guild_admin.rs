//! Guild lifecycle and administration with live events: create, rename,
//! channels and categories, reordering, deletion, members, leaving,
//! nicknames, and idle actors stopping and restarting.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// The error code of an error body.
fn code(v: &Value) -> Option<&str> {
    v["code"].as_str()
}

/// A guild owned by `owner` with `members` joined; returns (guild, #general).
async fn guild_with(s: &Server, owner: &User, members: &[&User]) -> (u64, u64) {
    let (gid, general) = owner.guild(s, "Lodge").await;
    let code = owner.invite(s, general, json!({})).await;
    for m in members {
        m.join(s, &code).await;
    }
    (gid, general)
}

/// The guild's channels as the user sees them over REST.
async fn channels(s: &Server, u: &User, gid: u64) -> Vec<Value> {
    let (st, v) = u.get(s, &format!("/guilds/{gid}/channels")).await;
    assert_eq!(st, 200, "{v}");
    v.as_array().unwrap().clone()
}

/// Wait until every (event name, id) pair has been dispatched, in any order
/// (one change can produce several events whose order is not specified);
/// returns their payloads in the order asked for.
async fn events(gw: &mut Gw, want: &[(&str, u64)]) -> Vec<Value> {
    let mut got: Vec<Option<Value>> = vec![None; want.len()];
    while got.iter().any(Option::is_none) {
        let f = gw.next().await.unwrap_or_else(|| panic!("connection ended or timed out waiting for {want:?}"));
        let Some(t) = f.t.as_deref() else { continue };
        for (i, (name, cid)) in want.iter().enumerate() {
            if got[i].is_none() && t == *name && f.d.get("id").is_some_and(|v| id(v) == *cid) {
                got[i] = Some(f.d.clone());
                break;
            }
        }
    }
    got.into_iter().map(Option::unwrap).collect()
}

fn find(chans: &[Value], cid: u64) -> &Value {
    chans.iter().find(|c| id(&c["id"]) == cid).unwrap_or_else(|| panic!("channel {cid} not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_and_renaming_a_guild() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (mut a, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    assert_eq!(ready["guilds"], json!([]));

    // Alice creates a guild: she owns it, it has #general and a General voice
    // channel, and her live session receives it whole.
    let (st, g) = alice.post(&s, "/guilds", json!({"name": "  Lodge "})).await;
    assert_eq!(st, 201, "{g}");
    assert_eq!(g["name"], "Lodge");
    assert_eq!(id(&g["owner_id"]), alice.id);
    let gid = id(&g["id"]);
    let gc = a.dispatch("GUILD_CREATE").await;
    assert_eq!(id(&gc["guild"]["id"]), gid);
    assert_eq!(id(&gc["member"]["user"]["id"]), alice.id);
    assert_eq!(gc["member_count"], 1);
    let live: Vec<(String, String)> = gc["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap().into(), c["name"].as_str().unwrap().into()))
        .collect();
    assert_eq!(live, [("text".into(), "general".into()), ("voice".into(), "General".into())]);
    let chans = channels(&s, &alice, gid).await;
    assert_eq!(chans.len(), 2);
    assert!(chans.iter().any(|c| c["kind"] == "text" && c["name"] == "general"));
    assert!(chans.iter().any(|c| c["kind"] == "voice" && c["name"] == "General"));
    assert!(chans.iter().all(|c| id(&c["guild_id"]) == gid));
    let general = id(&chans.iter().find(|c| c["kind"] == "text").unwrap()["id"]);
    let (st, mine) = alice.get(&s, "/users/@me/guilds").await;
    assert_eq!(st, 200);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(id(&mine[0]["id"]), gid);
    let (st, e) = alice.post(&s, "/guilds", json!({"name": "   "})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");

    // Bob joins and connects.
    let code_ = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code_).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;

    // The owner renames it: every member's session hears.
    let (st, g) = alice.patch(&s, &format!("/guilds/{gid}"), json!({"name": "Great Hall"})).await;
    assert_eq!(st, 200, "{g}");
    assert_eq!(g["name"], "Great Hall");
    for gw in [&mut a, &mut b] {
        let up = gw.dispatch("GUILD_UPDATE").await;
        assert_eq!(id(&up["id"]), gid);
        assert_eq!(up["name"], "Great Hall");
    }
    let (_, g) = bob.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!(g["name"], "Great Hall");

    // A plain member may not; nor may an empty name be set.
    let (st, e) = bob.patch(&s, &format!("/guilds/{gid}"), json!({"name": "Bob's"})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    let (st, e) = alice.patch(&s, &format!("/guilds/{gid}"), json!({"name": ""})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    a.expect_none("GUILD_UPDATE").await;
    let (_, g) = alice.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!(g["name"], "Great Hall");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_categories_with_live_events() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = guild_with(&s, &alice, &[&bob]).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;

    // A category, and a text channel inside it: members see both appear.
    let (st, cat) =
        alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "Info", "kind": "category"})).await;
    assert_eq!(st, 201, "{cat}");
    assert_eq!(cat["kind"], "category");
    let cat_id = id(&cat["id"]);
    let ev = b.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&ev["id"]), cat_id);
    let (st, rules) = alice
        .post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "rules", "parent_id": cat_id.to_string()}))
        .await;
    assert_eq!(st, 201, "{rules}");
    assert_eq!(rules["kind"], "text");
    assert_eq!(id(&rules["parent_id"]), cat_id);
    let rules_id = id(&rules["id"]);
    let ev = b.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&ev["id"]), rules_id);
    assert_eq!(id(&ev["parent_id"]), cat_id);
    assert_eq!(id(&ev["guild_id"]), gid);

    // Bad channels: a parent that is no category, nested categories, a long topic,
    // and a plain member trying at all.
    for (body, what) in [
        (json!({"name": "x", "parent_id": general.to_string()}), "text parent"),
        (json!({"name": "x", "kind": "category", "parent_id": cat_id.to_string()}), "nested"),
        (json!({"name": "x", "parent_id": "12345"}), "unknown parent"),
        (json!({"name": "x", "topic": "t".repeat(1025)}), "long topic"),
        (json!({"name": ""}), "empty name"),
        (json!({"name": "x", "kind": "dm"}), "dm kind"),
    ] {
        let (st, e) = alice.post(&s, &format!("/guilds/{gid}/channels"), body).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{what}: {e}");
    }
    let (st, e) = bob.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "bobs"})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    b.expect_none("CHANNEL_CREATE").await;

    // Rename and set a topic: members get the update.
    let (st, up) = alice
        .patch(&s, &format!("/channels/{rules_id}"), json!({"name": "rules-and-faq", "topic": "Read me first"}))
        .await;
    assert_eq!(st, 200, "{up}");
    assert_eq!((up["name"].as_str(), up["topic"].as_str()), (Some("rules-and-faq"), Some("Read me first")));
    let ev = b.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(id(&ev["id"]), rules_id);
    assert_eq!(ev["name"], "rules-and-faq");
    assert_eq!(ev["topic"], "Read me first");
    let (st, e) = alice.patch(&s, &format!("/channels/{rules_id}"), json!({"topic": "t".repeat(1025)})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) = bob.patch(&s, &format!("/channels/{general}"), json!({"name": "mine"})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");

    // Reorder and move: #rules to the top level first, #general to the end.
    let (st, after) = alice
        .patch(
            &s,
            &format!("/guilds/{gid}/channels"),
            json!([
                {"id": rules_id.to_string(), "position": 0, "parent_id": null},
                {"id": general.to_string(), "position": 5},
            ]),
        )
        .await;
    assert_eq!(st, 200, "{after}");
    let chans = channels(&s, &alice, gid).await;
    assert!(find(&chans, rules_id)["parent_id"].is_null());
    assert_eq!(find(&chans, rules_id)["position"], 0);
    assert_eq!(find(&chans, general)["position"], 5);
    assert_eq!(id(&chans[0]["id"]), rules_id, "listed by position");
    assert_eq!(id(&chans.last().unwrap()["id"]), general);
    let evs = events(&mut b, &[("CHANNEL_UPDATE", rules_id), ("CHANNEL_UPDATE", general)]).await;
    assert!(evs[0]["parent_id"].is_null(), "{}", evs[0]);
    assert_eq!(evs[0]["position"], 0);
    assert_eq!(evs[1]["position"], 5);
    // Moving into a non-category is refused and changes nothing.
    let (st, e) = alice
        .patch(
            &s,
            &format!("/guilds/{gid}/channels"),
            json!([{"id": rules_id.to_string(), "parent_id": general.to_string()}]),
        )
        .await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) =
        bob.patch(&s, &format!("/guilds/{gid}/channels"), json!([{"id": general.to_string(), "position": 0}])).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    // And back into the category.
    let (st, _) = alice
        .patch(
            &s,
            &format!("/guilds/{gid}/channels"),
            json!([{"id": rules_id.to_string(), "parent_id": cat_id.to_string()}]),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(id(&find(&channels(&s, &bob, gid).await, rules_id)["parent_id"]), cat_id);
    b.dispatch_where("CHANNEL_UPDATE", |d| id(&d["id"]) == rules_id && !d["parent_id"].is_null()).await;

    // Delete a channel: members hear, its history is gone.
    let (_, tmp) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "temp"})).await;
    let tmp_id = id(&tmp["id"]);
    b.dispatch_where("CHANNEL_CREATE", |d| id(&d["id"]) == tmp_id).await;
    alice.say(&s, tmp_id, "soon gone").await;
    let (st, _) = bob.delete(&s, &format!("/channels/{tmp_id}")).await;
    assert_eq!(st, 403);
    let (st, _) = alice.delete(&s, &format!("/channels/{tmp_id}")).await;
    assert_eq!(st, 204);
    let ev = b.dispatch("CHANNEL_DELETE").await;
    assert_eq!(id(&ev["id"]), tmp_id);
    assert_eq!(id(&ev["guild_id"]), gid);
    for u in [&alice, &bob] {
        let (st, e) = u.get(&s, &format!("/channels/{tmp_id}/messages")).await;
        assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    }
    let (st, e) = alice.post(&s, &format!("/channels/{tmp_id}/messages"), json!({"content": "hello?"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");

    // Delete the category: its child moves to the top level.
    let (st, _) = alice.delete(&s, &format!("/channels/{cat_id}")).await;
    assert_eq!(st, 204);
    // Bob hears both the category's deletion and the child's move.
    let evs = events(&mut b, &[("CHANNEL_DELETE", cat_id), ("CHANNEL_UPDATE", rules_id)]).await;
    assert!(evs[1]["parent_id"].is_null(), "{}", evs[1]);
    let chans = channels(&s, &bob, gid).await;
    assert!(chans.iter().all(|c| id(&c["id"]) != cat_id));
    assert!(find(&chans, rules_id)["parent_id"].is_null());
    let (st, ch) = bob.get(&s, &format!("/channels/{rules_id}")).await;
    assert_eq!(st, 200);
    assert!(ch["parent_id"].is_null());
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_list_pages_in_user_id_order() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let mut others = Vec::new();
    for n in ["bob", "carol", "dave", "erin"] {
        others.push(s.user(n).await);
    }
    let refs: Vec<&User> = others.iter().collect();
    let (gid, _) = guild_with(&s, &alice, &refs).await;
    let outsider = s.user("outsider").await;

    let mut all = vec![alice.id];
    all.extend(others.iter().map(|u| u.id));
    all.sort();

    // Pages of two, following `after`, cover everyone once in user id order.
    let mut seen = Vec::new();
    let mut after: Option<u64> = None;
    let mut pages = Vec::new();
    loop {
        let q = match after {
            Some(a) => format!("/guilds/{gid}/members?limit=2&after={a}"),
            None => format!("/guilds/{gid}/members?limit=2"),
        };
        let (st, page) = others[2].get(&s, &q).await;
        assert_eq!(st, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        pages.push(page.len());
        if page.is_empty() {
            break;
        }
        for m in &page {
            assert_eq!(id(&m["guild_id"]), gid);
            seen.push(id(&m["user"]["id"]));
        }
        after = Some(id(&page.last().unwrap()["user"]["id"]));
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [2, 2, 1, 0]);
    assert_eq!(seen, all);
    let (_, whole) = alice.get(&s, &format!("/guilds/{gid}/members")).await;
    assert_eq!(whole.as_array().unwrap().len(), 5);

    for bad in ["limit=0", "limit=1001", "after=abc"] {
        let (st, e) = alice.get(&s, &format!("/guilds/{gid}/members?{bad}")).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_query")), "{bad}: {e}");
    }

    // One member.
    let (st, m) = alice.get(&s, &format!("/guilds/{gid}/members/{}", others[0].id)).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["user"]["username"], "bob");
    assert_eq!(m["roles"], json!([]));
    assert!(m["nick"].is_null());
    assert!(m["joined_at"].is_u64());
    let (st, e) = alice.get(&s, &format!("/guilds/{gid}/members/{}", outsider.id)).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_member")), "{e}");
    let (st, e) = outsider.get(&s, &format!("/guilds/{gid}/members")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_guild() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (gid, general) = guild_with(&s, &alice, &[&bob, &carol]).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let (mut c, _) = Gw::identify(&s, &carol, Enc::Json).await;
    alice.say(&s, general, "before").await;
    b.dispatch("MESSAGE_CREATE").await;

    // Bob leaves: the others hear, his session loses the guild.
    let (st, _) = bob.delete(&s, &format!("/users/@me/guilds/{gid}")).await;
    assert_eq!(st, 204);
    for gw in [&mut a, &mut c] {
        let ev = gw.dispatch("GUILD_MEMBER_REMOVE").await;
        assert_eq!(id(&ev["guild_id"]), gid);
        assert_eq!(id(&ev["user"]["id"]), bob.id);
    }
    let ev = b.dispatch("GUILD_DELETE").await;
    assert_eq!(id(&ev["id"]), gid);

    // The guild's messages no longer reach him, and he cannot read or write there.
    let m = alice.say(&s, general, "bob left").await;
    let got = c.dispatch_where("MESSAGE_CREATE", |d| d["content"] == "bob left").await;
    assert_eq!(id(&got["id"]), id(&m["id"]));
    b.expect_none("MESSAGE_CREATE").await;
    let (st, e) = bob.get(&s, &format!("/channels/{general}/messages")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    b.send(40, json!({"channel_id": general, "content": "let me back", "nonce": "b-1"})).await;
    let err = b.op(43).await;
    assert_eq!(err["code"], "unknown_channel", "{err}");
    let (st, e) = bob.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (_, mine) = bob.get(&s, "/users/@me/guilds").await;
    assert_eq!(mine, json!([]));
    let (_, members) = alice.get(&s, &format!("/guilds/{gid}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (st, e) = bob.delete(&s, &format!("/users/@me/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (_, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(ready["guilds"], json!([]));

    // The owner cannot leave her own guild.
    let (st, e) = alice.delete(&s, &format!("/users/@me/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (409, Some("conflict")), "{e}");
    a.expect_none("GUILD_DELETE").await;
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_guild() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;
    let code_ = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code_).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;
    alice.say(&s, general, "last words").await;
    b.dispatch("MESSAGE_CREATE").await;

    // Only the owner may delete it.
    let (st, e) = bob.delete(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    b.expect_none("GUILD_DELETE").await;

    let (st, _) = alice.delete(&s, &format!("/guilds/{gid}")).await;
    assert_eq!(st, 204);
    for gw in [&mut a, &mut b] {
        let ev = gw.dispatch("GUILD_DELETE").await;
        assert_eq!(id(&ev["id"]), gid);
    }

    // Everything is gone: the guild, its channels' history, its invites.
    for u in [&alice, &bob] {
        let (st, e) = u.get(&s, &format!("/guilds/{gid}")).await;
        assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
        let (st, e) = u.get(&s, &format!("/channels/{general}/messages")).await;
        assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
        let (_, mine) = u.get(&s, "/users/@me/guilds").await;
        assert_eq!(mine, json!([]));
    }
    let (st, e) = bob.post(&s, &format!("/channels/{general}/messages"), json!({"content": "anyone?"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    let carol = s.user("carol").await;
    let (st, e) = carol.get(&s, &format!("/invites/{code_}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = alice.delete(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (_, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(ready["guilds"], json!([]));

    // Alice can carry on with a new guild.
    let (_, general2) = alice.guild(&s, "Lodge 2").await;
    alice.say(&s, general2, "fresh start").await;
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nicknames() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (gid, _) = guild_with(&s, &alice, &[&bob, &carol]).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut c, _) = Gw::identify(&s, &carol, Enc::MsgPack).await;

    // Bob sets his own nickname (change_nickname is an @everyone default).
    let (st, m) = bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({"nick": " Bobby "})).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["nick"], "Bobby");
    for gw in [&mut a, &mut c] {
        let ev = gw.dispatch("GUILD_MEMBER_UPDATE").await;
        assert_eq!(id(&ev["user"]["id"]), bob.id);
        assert_eq!(id(&ev["guild_id"]), gid);
        assert_eq!(ev["nick"], "Bobby");
    }
    let (_, m) = carol.get(&s, &format!("/guilds/{gid}/members/{}", bob.id)).await;
    assert_eq!(m["nick"], "Bobby");

    // Carol's nickname is not Bob's to change (no manage_nicknames).
    let (st, e) = bob.patch(&s, &format!("/guilds/{gid}/members/{}", carol.id), json!({"nick": "Caz"})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    c.expect_none("GUILD_MEMBER_UPDATE").await;
    let (_, m) = alice.get(&s, &format!("/guilds/{gid}/members/{}", carol.id)).await;
    assert!(m["nick"].is_null());

    // The owner may; a too-long nickname is refused; null clears.
    let (st, m) = alice.patch(&s, &format!("/guilds/{gid}/members/{}", carol.id), json!({"nick": "Caz"})).await;
    assert_eq!((st, &m["nick"]), (200, &json!("Caz")), "{m}");
    let ev = c.dispatch("GUILD_MEMBER_UPDATE").await;
    assert_eq!((id(&ev["user"]["id"]), &ev["nick"]), (carol.id, &json!("Caz")));
    let (st, e) = bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({"nick": "b".repeat(33)})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, m) = bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({"nick": null})).await;
    assert_eq!(st, 200, "{m}");
    assert!(m["nick"].is_null());
    let ev = a.dispatch_where("GUILD_MEMBER_UPDATE", |d| d["nick"].is_null()).await;
    assert_eq!(id(&ev["user"]["id"]), bob.id);

    // Taking change_nickname from @everyone stops Bob renaming himself.
    let without = 0x0631_CC41u64 & !(1 << 26);
    let (st, _) =
        alice.patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": without.to_string()})).await;
    assert_eq!(st, 200);
    let (st, e) = bob.patch(&s, &format!("/guilds/{gid}/members/{}", bob.id), json!({"nick": "Bobby"})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
}

/// Poll a metric until `ok` holds, for up to `within`.
async fn metric_until(s: &Server, name: &str, within: Duration, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = s.metric(name).await;
        if ok(v) || tokio::time::Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(crate::support::poll::POLL_EVERY).await;
    }
}

// needs --actor-idle-secs (src/config/mod.rs `actor_idle_secs`)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_actors_stop_and_restart_on_demand() {
    let s = Server::start_with(&["--actor-idle-secs", "1"]).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = guild_with(&s, &alice, &[&bob]).await;
    alice.say(&s, general, "one").await;
    assert!(s.metric("hearth_channel_actors").await >= 1.0);
    assert!(s.metric("hearth_guild_actors").await >= 1.0);

    // Nobody is connected: after a quiet while both actors stop.
    let started = std::time::Instant::now();
    let ch = metric_until(&s, "hearth_channel_actors", Duration::from_secs(8), |v| v == 0.0).await;
    let g = metric_until(&s, "hearth_guild_actors", Duration::from_secs(8), |v| v == 0.0).await;
    assert_eq!((ch, g), (0.0, 0.0), "idle actors did not stop");
    assert!(started.elapsed() >= Duration::from_millis(500), "actors stopped before they were idle");

    // Sending again restarts them, and the history is intact.
    alice.say(&s, general, "two").await;
    assert!(s.metric("hearth_channel_actors").await >= 1.0);
    assert!(s.metric("hearth_guild_actors").await >= 1.0);
    let (st, hist) = bob.get(&s, &format!("/channels/{general}/messages")).await;
    assert_eq!(st, 200, "{hist}");
    let contents: Vec<&str> = hist.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["one", "two"]);

    // A connected member keeps the guild actor alive; a restarted channel actor
    // still delivers to him.
    let (mut b, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(id(&ready["guilds"][0]["guild"]["id"]), gid);
    // The channel actor idles out first; a guild without sessions would stop
    // one idle period (1 s) after its last channel actor. Watching for that
    // long (plus two 100 ms idle checks) is the shortest proof that it does not.
    let ch = metric_until(&s, "hearth_channel_actors", Duration::from_secs(8), |v| v == 0.0).await;
    assert_eq!(ch, 0.0, "the idle channel actor did not stop");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(s.metric("hearth_guild_actors").await >= 1.0, "a guild with a live session stopped");
    let m = alice.say(&s, general, "three").await;
    let got = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&got["id"]), id(&m["id"]));
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    assert_eq!(hist.as_array().unwrap().len(), 3);
    assert!(!s.logged_panic());
}
