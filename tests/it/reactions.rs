//! Reactions and pins over REST, seen over the gateway, with their
//! permission rules and limits; both survive a restart.

use serde_json::{json, Value};

use crate::common::*;

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

fn reactions_of(m: &Value) -> Vec<(String, u64, bool)> {
    m["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["emoji"]["name"].as_str().unwrap().to_string(), r["count"].as_u64().unwrap(), r["me"] == true))
        .collect()
}

async fn lodge(s: &Server) -> (User, User, u64, u64) {
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(s, "Lodge").await;
    let code = alice.invite(s, general, json!({})).await;
    bob.join(s, &code).await;
    (alice, bob, gid, general)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_count_per_emoji_with_me_and_events_and_moderators_clear_them() {
    let mut s = Server::start().await;
    let (alice, bob, _gid, general) = lodge(&s).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let m = alice.say(&s, general, "react to me").await;
    let mp = format!("/channels/{general}/messages/{}", id(&m["id"]));
    let thumbs = format!("{mp}/reactions/{}", enc("👍"));

    // Bob reacts: Alice hears it with the new count; twice is once.
    assert_eq!(bob.put(&s, &format!("{thumbs}/@me"), json!({})).await.0, 204);
    let ev = a.dispatch("MESSAGE_REACTION_ADD").await;
    assert_eq!((id(&ev["user_id"]), ev["emoji"]["name"].clone(), ev["count"].clone()), (bob.id, json!("👍"), json!(1)));
    assert!(ev["emoji"]["id"].is_null());
    assert_eq!(bob.put(&s, &format!("{thumbs}/@me"), json!({})).await.0, 204);
    alice.put(&s, &format!("{thumbs}/@me"), json!({})).await;
    assert_eq!(a.dispatch("MESSAGE_REACTION_ADD").await["count"], 2);
    bob.put(&s, &format!("{mp}/reactions/{}/@me", enc("🎉")), json!({})).await;
    a.dispatch("MESSAGE_REACTION_ADD").await;

    // Counts and `me` per reader, in history and on one message.
    let (_, as_bob) = bob.get(&s, &mp).await;
    assert_eq!(reactions_of(&as_bob), [("👍".into(), 2, true), ("🎉".into(), 1, true)]);
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    assert_eq!(reactions_of(&hist[0]), [("👍".into(), 2, true), ("🎉".into(), 1, false)]);

    // Who reacted, paged by user id.
    let (st, users) = bob.get(&s, &format!("{thumbs}?limit=1")).await;
    assert_eq!(st, 200, "{users}");
    assert_eq!(users.as_array().unwrap().len(), 1);
    let first = id(&users[0]["id"]);
    let (_, rest) = bob.get(&s, &format!("{thumbs}?after={first}")).await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_ne!(id(&rest[0]["id"]), first);
    assert_eq!(bob.get(&s, &format!("{thumbs}?limit=0")).await.0, 400);

    // Survives a restart.
    s.restart().await;
    let (_, after) = bob.get(&s, &mp).await;
    assert_eq!(reactions_of(&after), [("👍".into(), 2, true), ("🎉".into(), 1, true)]);
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;

    // Bob takes his back; he may not take Alice's; the owner may take anyone's.
    assert_eq!(bob.delete(&s, &format!("{thumbs}/@me")).await.0, 204);
    let ev = a.dispatch("MESSAGE_REACTION_REMOVE").await;
    assert_eq!((id(&ev["user_id"]), ev["count"].clone()), (bob.id, json!(1)));
    let (st, e) = bob.delete(&s, &format!("{thumbs}/{}", alice.id)).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    bob.put(&s, &format!("{thumbs}/@me"), json!({})).await;
    assert_eq!(alice.delete(&s, &format!("{thumbs}/{}", bob.id)).await.0, 204);
    a.dispatch_where("MESSAGE_REACTION_REMOVE", |d| id(&d["user_id"]) == bob.id).await;
    // Clear one emoji, then all (manage_messages only).
    assert_eq!(bob.delete(&s, &thumbs).await.0, 403);
    assert_eq!(alice.delete(&s, &thumbs).await.0, 204);
    assert_eq!(a.dispatch("MESSAGE_REACTION_REMOVE_EMOJI").await["emoji"]["name"], "👍");
    assert_eq!(alice.delete(&s, &format!("{mp}/reactions")).await.0, 204);
    a.dispatch("MESSAGE_REACTION_REMOVE_ALL").await;
    assert!(reactions_of(&bob.get(&s, &mp).await.1).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reactions_are_refused_and_add_reactions_gates_new_emoji() {
    let s = Server::start().await;
    let (alice, bob, gid, general) = lodge(&s).await;
    let m = alice.say(&s, general, "react to me").await;
    let mp = format!("/channels/{general}/messages/{}", id(&m["id"]));
    let react = |e: &str| format!("{mp}/reactions/{}/@me", enc(e));

    for bad in ["a", "👍👍", "party:123", "party:0", "<b>"] {
        let (st, e) = bob.put(&s, &react(bad), json!({})).await;
        assert_eq!((st, code(&e)), (400, "unknown_emoji"), "{bad}: {e}");
    }
    let (st, e) = bob.put(&s, &format!("/channels/{general}/messages/1/reactions/{}/@me", enc("👍")), json!({})).await;
    assert_eq!((st, code(&e)), (404, "unknown_message"));

    // 20 distinct emoji at most.
    let emoji = [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙", "😚",
        "🙂", "🤗", "🤩",
    ];
    for e in &emoji[..20] {
        assert_eq!(alice.put(&s, &react(e), json!({})).await.0, 204, "{e}");
    }
    let (st, e) = alice.put(&s, &react(emoji[20]), json!({})).await;
    assert_eq!((st, code(&e)), (422, "limit_reached"));

    // Without add_reactions Bob may join an existing reaction but not start one.
    let (_, roles) = alice.get(&s, &format!("/guilds/{gid}/roles")).await;
    let everyone = roles.as_array().unwrap().iter().find(|r| r["name"] == "@everyone").unwrap();
    let perms: u64 = everyone["permissions"].as_str().unwrap().parse().unwrap();
    alice
        .patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": (perms & !(1 << 6)).to_string()}))
        .await;
    let m2 = alice.say(&s, general, "another").await;
    let mp2 = format!("/channels/{general}/messages/{}", id(&m2["id"]));
    alice.put(&s, &format!("{mp2}/reactions/{}/@me", enc("👍")), json!({})).await;
    assert_eq!(bob.put(&s, &format!("{mp2}/reactions/{}/@me", enc("👍")), json!({})).await.0, 204);
    let (st, e) = bob.put(&s, &format!("{mp2}/reactions/{}/@me", enc("🎉")), json!({})).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    assert_eq!(bob.get(&s, &mp2).await.1["reactions"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_rate_limited_per_user() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let (alice, _bob, _gid, general) = lodge(&s).await;
    let m = alice.say(&s, general, "spam target").await;
    let mp = format!("/channels/{general}/messages/{}", id(&m["id"]));
    let path = format!("{mp}/reactions/{}/@me", enc("👍"));
    let mut limited = None;
    for i in 0..30 {
        let (st, e) = if i % 2 == 0 { alice.put(&s, &path, json!({})).await } else { alice.delete(&s, &path).await };
        if st == 429 {
            limited = Some((i, e));
            break;
        }
        assert_eq!(st, 204, "{e}");
    }
    let (i, e) = limited.expect("reactions are rate limited");
    assert!(i >= 10, "the burst is 10 (limited after {i})");
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(e["message"].as_str().unwrap().contains("reactions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_need_manage_messages_post_a_notice_and_stop_at_fifty() {
    let s = Server::start().await;
    let (alice, bob, _gid, general) = lodge(&s).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;
    let m = bob.say(&s, general, "pin me").await;
    let pin = format!("/channels/{general}/pins/{}", id(&m["id"]));

    let (st, e) = bob.put(&s, &pin, json!({})).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    assert_eq!(alice.put(&s, &pin, json!({})).await.0, 204);
    let up = b.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(up["pinned"], true);
    let pins_ev = b.dispatch("CHANNEL_PINS_UPDATE").await;
    assert!(pins_ev["last_pin_timestamp"].as_u64().is_some());
    let notice = b.dispatch_where("MESSAGE_CREATE", |d| d["kind"] == "pin_notice").await;
    assert_eq!(id(&notice["author"]["id"]), alice.id);
    assert_eq!(id(&notice["message_reference"]["message_id"]), id(&m["id"]));
    // Pinning again changes nothing; a notice cannot be pinned or edited.
    assert_eq!(alice.put(&s, &pin, json!({})).await.0, 204);
    b.expect_none("CHANNEL_PINS_UPDATE").await;
    let (st, _) = alice.put(&s, &format!("/channels/{general}/pins/{}", id(&notice["id"])), json!({})).await;
    assert_eq!(st, 400);
    let (st, e) =
        alice.patch(&s, &format!("/channels/{general}/messages/{}", id(&notice["id"])), json!({"content": "x"})).await;
    assert_eq!((st, code(&e)), (403, "cannot_edit_message"));

    let (_, list) = bob.get(&s, &format!("/channels/{general}/pins")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["content"], "pin me");

    // Fifty pins at most.
    for i in 0..49 {
        let m = alice.say(&s, general, &format!("pin {i}")).await;
        assert_eq!(alice.put(&s, &format!("/channels/{general}/pins/{}", id(&m["id"])), json!({})).await.0, 204);
    }
    let extra = alice.say(&s, general, "one too many").await;
    let (st, e) = alice.put(&s, &format!("/channels/{general}/pins/{}", id(&extra["id"])), json!({})).await;
    assert_eq!((st, code(&e)), (422, "limit_reached"));
    let (_, list) = bob.get(&s, &format!("/channels/{general}/pins")).await;
    assert_eq!(list.as_array().unwrap().len(), 50);
    assert_eq!(list[0]["content"], "pin 48", "the most recent pin first");

    // Unpin; deleting a pinned message unpins it too.
    assert_eq!(alice.delete(&s, &pin).await.0, 204);
    let up = b.dispatch_where("MESSAGE_UPDATE", |d| d["pinned"] == false).await;
    assert_eq!(id(&up["id"]), id(&m["id"]));
    let last = &list[0];
    assert_eq!(alice.delete(&s, &format!("/channels/{general}/messages/{}", id(&last["id"]))).await.0, 204);
    assert_eq!(bob.get(&s, &format!("/channels/{general}/pins")).await.1.as_array().unwrap().len(), 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_dm_both_people_react_and_pin_and_nobody_else_sees_it() {
    let s = Server::start().await;
    let (alice, bob, _gid, _general) = lodge(&s).await;
    let carol = s.user("carol").await;
    let (st, dm) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": bob.id.to_string()})).await;
    assert!(st == 200 || st == 201, "{dm}");
    let dm = id(&dm["id"]);
    let m = alice.say(&s, dm, "just us").await;
    let mp = format!("/channels/{dm}/messages/{}", id(&m["id"]));
    assert_eq!(bob.put(&s, &format!("{mp}/reactions/{}/@me", enc("❤️")), json!({})).await.0, 204);
    assert_eq!(bob.put(&s, &format!("/channels/{dm}/pins/{}", id(&m["id"])), json!({})).await.0, 204);
    let (st, e) = carol.put(&s, &format!("{mp}/reactions/{}/@me", enc("❤️")), json!({})).await;
    assert_eq!((st, code(&e)), (404, "unknown_channel"));
    assert_eq!(carol.get(&s, &format!("/channels/{dm}/pins")).await.0, 404);
    // Bob cannot delete Alice's message in a DM (nobody moderates a DM).
    assert_eq!(bob.delete(&s, &mp).await.0, 403);
    let (_, pins) = alice.get(&s, &format!("/channels/{dm}/pins")).await;
    assert_eq!(reactions_of(&pins[0]), [("❤️".into(), 1, false)]);
}
