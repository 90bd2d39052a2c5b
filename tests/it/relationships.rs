//! Friends, blocks and DM privacy: the friend flow with live events in both
//! encodings, what a block stops, what privacy settings stop, the limits, and
//! every bad input.

use serde_json::{json, Value};

use crate::common::*;

/// The error code of an error body.
fn code(v: &Value) -> Option<&str> {
    v["code"].as_str()
}

fn rel(u: &User) -> String {
    format!("/users/@me/relationships/{}", u.id)
}

/// `a` and `b` become friends (request, then accept).
async fn befriend(s: &Server, a: &User, b: &User) {
    let (st, r) = a.put(s, &rel(b), json!({"type": "friend"})).await;
    assert_eq!((st, &r["type"]), (200, &json!("outgoing")), "{r}");
    let (st, r) = b.put(s, &rel(a), json!({"type": "friend", "accept": true})).await;
    assert_eq!((st, &r["type"]), (200, &json!("friend")), "{r}");
}

/// Put users in one guild (the first creates it); returns the guild and its #general.
async fn neighbours(s: &Server, users: &[&User]) -> (u64, u64) {
    let (gid, general) = users[0].guild(s, "Street").await;
    let code = users[0].invite(s, general, json!({})).await;
    for u in &users[1..] {
        u.join(s, &code).await;
    }
    (gid, general)
}

async fn open_dm(s: &Server, from: &User, to: &User) -> (u16, Value) {
    from.post(s, "/users/@me/channels", json!({"recipient_id": to.id.to_string()})).await
}

async fn open_group(s: &Server, from: &User, to: &[&User]) -> (u16, Value) {
    let ids: Vec<String> = to.iter().map(|u| u.id.to_string()).collect();
    from.post(s, "/users/@me/channels", json!({"recipient_ids": ids})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_request_is_sent_accepted_and_removed_with_events_in_both_encodings() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (mut a, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    assert_eq!(ready["relationships"], json!([]));
    assert_eq!(
        ready["settings"],
        json!({"allow_guild_dms": true, "guild_dm_overrides": [], "group_dms_friends_only": true})
    );
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;

    // Strangers without a shared guild cannot DM each other.
    let (st, e) = open_dm(&s, &alice, &bob).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");

    // By username, case-insensitively.
    let (st, r) = alice.post(&s, "/users/@me/relationships", json!({"username": "BOB"})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!((id(&r["id"]), &r["type"], &r["user"]["username"]), (bob.id, &json!("outgoing"), &json!("bob")));
    let ev = a.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (bob.id, &json!("outgoing")));
    assert!(ev["id"].is_string(), "JSON ids are strings");
    let ev = b.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((id(&ev["id"]), &ev["type"], &ev["user"]["username"]), (alice.id, &json!("incoming"), &json!("alice")));
    assert!(ev["id"].is_u64(), "MessagePack ids are integers");

    // Asking twice is refused; so is asking by id.
    let (st, e) = alice.post(&s, "/users/@me/relationships", json!({"username": "bob"})).await;
    assert_eq!((st, code(&e)), (409, Some("already_requested")), "{e}");
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    assert_eq!((st, code(&e)), (409, Some("already_requested")), "{e}");
    // Alice cannot accept her own request.
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend", "accept": true})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_relationship")), "{e}");

    // Bob accepts, with a MessagePack body: both become friends, both hear it.
    let (st, r) = req_msgpack(&s, "PUT", &rel(&alice), &bob.token, json!({"type": "friend", "accept": true})).await;
    assert_eq!((st, &r["type"]), (200, &json!("friend")), "{r}");
    let ev = a.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (bob.id, &json!("friend")));
    let ev = b.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (alice.id, &json!("friend")));
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    assert_eq!((st, code(&e)), (409, Some("already_friends")), "{e}");

    // Friends may DM without sharing a guild.
    let (st, dm) = open_dm(&s, &alice, &bob).await;
    assert_eq!(st, 201, "{dm}");

    // The list and a fresh READY carry the friendship.
    let (st, list) = alice.get(&s, "/users/@me/relationships").await;
    assert_eq!(st, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!((id(&list[0]["id"]), &list[0]["type"]), (bob.id, &json!("friend")));
    let (_, ready) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    assert_eq!(ready["relationships"][0]["type"], "friend");
    assert_eq!(ready["relationships"][0]["id"], json!(alice.id));

    // Removing the friend ends it on both sides.
    let (st, _) = bob.delete(&s, &rel(&alice)).await;
    assert_eq!(st, 204);
    let ev = a.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (bob.id, &json!("friend")));
    let ev = b.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (alice.id, &json!("friend")));
    let (_, list) = alice.get(&s, "/users/@me/relationships").await;
    assert_eq!(list, json!([]));

    // Carol asks Bob; Bob declines. Carol asks again; Carol cancels.
    carol.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    b.dispatch_where("RELATIONSHIP_ADD", |d| d["type"] == "incoming").await;
    let (st, _) = bob.delete(&s, &rel(&carol)).await;
    assert_eq!(st, 204);
    let ev = b.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (carol.id, &json!("incoming")));
    let (_, list) = carol.get(&s, "/users/@me/relationships").await;
    assert_eq!(list, json!([]), "declined requests are gone for the sender too");
    carol.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    b.dispatch_where("RELATIONSHIP_ADD", |d| d["type"] == "incoming").await;
    let (st, _) = carol.delete(&s, &rel(&bob)).await;
    assert_eq!(st, 204);
    let ev = b.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (carol.id, &json!("incoming")));
    // Nothing left to remove.
    let (st, e) = carol.delete(&s, &rel(&bob)).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_relationship")), "{e}");
    // Alice heard nothing of Carol's requests.
    a.expect_none("RELATIONSHIP_ADD").await;
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_stops_dms_messages_group_adds_and_friend_requests() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (_, general) = neighbours(&s, &[&alice, &bob, &carol]).await;
    befriend(&s, &alice, &bob).await;
    let (st, dm) = open_dm(&s, &alice, &bob).await;
    assert_eq!(st, 201, "{dm}");
    let dm = id(&dm["id"]);
    befriend(&s, &carol, &alice).await;
    let (st, group) = open_group(&s, &carol, &[&alice]).await;
    assert_eq!(st, 201, "{group}");
    let group = id(&group["id"]);
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;

    // Bob blocks Alice: the friendship ends on her side, his side says blocked.
    let (st, r) = bob.put(&s, &rel(&alice), json!({"type": "blocked"})).await;
    assert_eq!((st, &r["type"]), (200, &json!("blocked")), "{r}");
    let ev = b.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (alice.id, &json!("blocked")));
    let ev = a.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (bob.id, &json!("friend")));
    let (_, list) = alice.get(&s, "/users/@me/relationships").await;
    let shown: Vec<u64> = list.as_array().unwrap().iter().map(|r| id(&r["id"])).collect();
    assert_eq!(shown, vec![carol.id], "a block is not shown to the blocked: {list}");

    // Alice can no longer reach Bob: not the existing DM, not over REST or the gateway.
    let (st, e) = open_dm(&s, &alice, &bob).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let (st, e) = alice.post(&s, &format!("/channels/{dm}/messages"), json!({"content": "hello?"})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let cid = a.idv(dm);
    a.send(40, json!({"channel_id": cid, "content": "hello?", "nonce": "n-1"})).await;
    let err = a.op(43).await;
    assert_eq!((&err["code"], &err["nonce"]), (&json!("cannot_message_user"), &json!("n-1")), "{err}");
    b.expect_none("MESSAGE_CREATE").await;
    // Nor typing there.
    let (st, e) = alice.post(&s, &format!("/channels/{dm}/typing"), json!({})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    b.expect_none("TYPING_START").await;
    // Not into a group DM, not by a friend request.
    let (st, e) = open_group(&s, &alice, &[&bob, &carol]).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let (st, e) = alice.put(&s, &format!("/channels/{group}/recipients/{}", bob.id), json!({})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_befriend_user")), "{e}");
    let (st, e) = alice.post(&s, "/users/@me/relationships", json!({"username": "bob"})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_befriend_user")), "{e}");
    // Bob, who blocked, cannot message Alice either until he unblocks.
    let (st, e) = bob.post(&s, &format!("/channels/{dm}/messages"), json!({"content": "x"})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    // Guild channels are not DMs: both still talk there.
    alice.say(&s, general, "still here").await;

    // Unblocking restores the DM (not the friendship).
    let (st, _) = bob.delete(&s, &rel(&alice)).await;
    assert_eq!(st, 204);
    let ev = b.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!((id(&ev["id"]), &ev["type"]), (alice.id, &json!("blocked")));
    alice.say(&s, dm, "hello again").await;
    let (_, list) = bob.get(&s, "/users/@me/relationships").await;
    assert_eq!(list, json!([]));
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_settings_decide_who_may_dm_and_who_may_add_to_group_dms() {
    let s = Server::start().await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let dave = s.user("dave").await;
    let erin = s.user("erin").await;
    let (g1, _) = neighbours(&s, &[&bob, &carol, &dave]).await;
    let (g2, _) = neighbours(&s, &[&bob, &dave]).await;
    let (mut b, ready) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    assert_eq!(ready["settings"]["allow_guild_dms"], true);

    // Erin shares no guild with Bob: refused by default.
    let (st, e) = open_dm(&s, &erin, &bob).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");

    // Bob turns off DMs from guild 1's members: Carol (only in g1) is refused,
    // Dave (also in g2) is not.
    let (st, set) = bob
        .patch(
            &s,
            "/users/@me/settings",
            json!({"guild_dm_overrides": [{"guild_id": g1.to_string(), "allow_dms": false}]}),
        )
        .await;
    assert_eq!(st, 200, "{set}");
    assert_eq!(set["guild_dm_overrides"][0]["allow_dms"], false);
    let ev = b.dispatch("USER_SETTINGS_UPDATE").await;
    assert_eq!(ev["guild_dm_overrides"][0]["guild_id"], json!(g1), "{ev}");
    let (st, e) = open_dm(&s, &carol, &bob).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let (st, _) = open_dm(&s, &dave, &bob).await;
    assert_eq!(st, 201);

    // Friends only: no guild member at all, but friends still may.
    let (st, _) =
        bob.patch(&s, "/users/@me/settings", json!({"allow_guild_dms": false, "guild_dm_overrides": []})).await;
    assert_eq!(st, 200);
    b.dispatch_where("USER_SETTINGS_UPDATE", |d| d["allow_guild_dms"] == false).await;
    let (st, e) = open_dm(&s, &carol, &bob).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    befriend(&s, &carol, &bob).await;
    let (st, _) = open_dm(&s, &carol, &bob).await;
    assert_eq!(st, 201);
    // ...and an override can open one guild again.
    let (st, _) = bob
        .patch(
            &s,
            "/users/@me/settings",
            json!({
                "guild_dm_overrides": [{"guild_id": g2.to_string(), "allow_dms": true}],
                "group_dms_friends_only": false,
            }),
        )
        .await;
    assert_eq!(st, 200);
    let (st, e) = open_group(&s, &dave, &[&bob]).await;
    assert_eq!(st, 201, "{e}");

    // Group DMs only from friends (the default, turned back on): Dave (a guild
    // member) may no longer add Bob; Carol (a friend) may.
    let (st, set) = bob.patch(&s, "/users/@me/settings", json!({"group_dms_friends_only": true})).await;
    assert_eq!((st, &set["group_dms_friends_only"]), (200, &json!(true)), "{set}");
    let (st, e) = open_group(&s, &dave, &[&bob]).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    befriend(&s, &dave, &carol).await;
    let (st, grp) = open_group(&s, &dave, &[&carol]).await;
    assert_eq!(st, 201);
    let gid = id(&grp["id"]);
    let (st, e) = dave.put(&s, &format!("/channels/{gid}/recipients/{}", bob.id), json!({})).await;
    assert_eq!((st, code(&e)), (403, Some("cannot_message_user")), "{e}");
    let (st, _) = carol.put(&s, &format!("/channels/{gid}/recipients/{}", bob.id), json!({})).await;
    assert_eq!(st, 200, "a friend may add Bob");
    // The 1:1 DM already open with Dave is found again.
    let (st, _) = open_dm(&s, &dave, &bob).await;
    assert_eq!(st, 200);

    // The settings survive: GET and a fresh READY.
    let (_, got) = bob.get(&s, "/users/@me/settings").await;
    assert_eq!(
        got,
        json!({"allow_guild_dms": false, "guild_dm_overrides": [{"guild_id": g2.to_string(), "allow_dms": true}], "group_dms_friends_only": true})
    );
    let (_, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(ready["settings"], got);
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_documented_errors() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let me = rel(&alice);
    for body in [json!({"type": "friend"}), json!({"type": "blocked"})] {
        let (st, e) = alice.put(&s, &me, body).await;
        assert_eq!((st, code(&e)), (400, Some("cannot_target_self")), "{e}");
    }
    let (st, e) = alice.post(&s, "/users/@me/relationships", json!({"username": "ALICE"})).await;
    assert_eq!((st, code(&e)), (400, Some("cannot_target_self")), "{e}");
    for body in [json!({"type": "friend"}), json!({"type": "blocked"})] {
        let (st, e) = alice.put(&s, "/users/@me/relationships/12345", body).await;
        assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");
    }
    let (st, e) = alice.post(&s, "/users/@me/relationships", json!({"username": "nobody"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");
    let (st, e) = alice.delete(&s, "/users/@me/relationships/12345").await;
    assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");
    // Accepting a request that was never sent; removing what does not exist.
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend", "accept": true})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_relationship")), "{e}");
    let (st, e) = alice.delete(&s, &rel(&bob)).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_relationship")), "{e}");
    // Malformed bodies.
    for body in [
        json!({}),
        json!({"type": "incoming"}),
        json!({"type": 1}),
        json!({"type": "friend", "accept": null}),
        json!({"type": "friend", "accept": "yes"}),
    ] {
        let (st, e) = alice.put(&s, &rel(&bob), body.clone()).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{body}: {e}");
    }
    for body in [json!({}), json!({"username": "x"}), json!({"username": 5})] {
        let (st, e) = alice.post(&s, "/users/@me/relationships", body.clone()).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{body}: {e}");
    }
    // Settings: nothing to change, nulls, wrong types, guilds one is not in, duplicates.
    let (st, e) = alice.patch(&s, "/users/@me/settings", json!({})).await;
    assert_eq!((st, code(&e), e["message"].as_str()), (400, Some("invalid_body"), Some("nothing to change")), "{e}");
    let (gid, _) = alice.guild(&s, "Mine").await;
    let (other, _) = bob.guild(&s, "Not mine").await;
    for body in [
        json!({"allow_guild_dms": null}),
        json!({"allow_guild_dms": "no"}),
        json!({"group_dms_friends_only": 0}),
        json!({"guild_dm_overrides": null}),
        json!({"guild_dm_overrides": [{"guild_id": gid.to_string()}]}),
        json!({"guild_dm_overrides": [{"guild_id": gid.to_string(), "allow_dms": true}, {"guild_id": gid.to_string(), "allow_dms": false}]}),
    ] {
        let (st, e) = alice.patch(&s, "/users/@me/settings", body.clone()).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{body}: {e}");
    }
    let (st, e) = alice
        .patch(
            &s,
            "/users/@me/settings",
            json!({"guild_dm_overrides": [{"guild_id": other.to_string(), "allow_dms": true}]}),
        )
        .await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (_, got) = alice.get(&s, "/users/@me/settings").await;
    assert_eq!(got["guild_dm_overrides"], json!([]), "nothing refused was stored");
    // Paging the DM list: limits checked.
    for q in ["limit=0", "limit=201", "limit=x", "after=y"] {
        let (st, e) = alice.get(&s, &format!("/users/@me/channels?{q}")).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_query")), "{q}: {e}");
    }
    // Unknown methods on the new paths.
    let (st, e) = alice.post(&s, "/users/@me/settings", json!({})).await;
    assert_eq!((st, code(&e)), (405, Some("method_not_allowed")), "{e}");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_dms_per_user_are_capped_and_ready_lists_only_the_most_recent() {
    const MAX_GROUP_DMS_PER_USER: usize = 100;
    const MAX_READY_PRIVATE_CHANNELS: usize = 100;
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    befriend(&s, &alice, &bob).await;
    befriend(&s, &carol, &bob).await;
    let mut groups = Vec::new();
    for _ in 0..MAX_GROUP_DMS_PER_USER {
        let (st, g) = open_group(&s, &alice, &[&bob]).await;
        assert_eq!(st, 201, "{g}");
        groups.push(id(&g["id"]));
    }
    // Alice is full; so is Bob, whoever asks.
    let (st, e) = open_group(&s, &alice, &[&bob]).await;
    assert_eq!((st, code(&e)), (422, Some("limit_reached")), "{e}");
    let (st, e) = open_group(&s, &carol, &[&bob]).await;
    assert_eq!((st, code(&e)), (422, Some("limit_reached")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("MAX_GROUP_DMS_PER_USER"), "{e}");
    let (st, g) = open_group(&s, &carol, &[]).await;
    assert_eq!(st, 400, "{g}");

    // A 1:1 DM makes 101 private channels for Bob; READY holds the newest 100.
    let (st, dm) = open_dm(&s, &alice, &bob).await;
    assert_eq!(st, 201);
    let dm = id(&dm["id"]);
    let (_, ready) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let listed: Vec<u64> = ready["dm_channels"].as_array().unwrap().iter().map(|c| id(&c["id"])).collect();
    assert_eq!(listed.len(), MAX_READY_PRIVATE_CHANNELS);
    assert_eq!(ready["more_dm_channels"], true);
    assert_eq!(listed[0], dm, "most recently active first");
    assert!(!listed.contains(&groups[0]), "the least recently active is left out");
    // A message makes the oldest group the most recent.
    alice.say(&s, groups[0], "wake up").await;
    let (_, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(id(&ready["dm_channels"][0]["id"]), groups[0]);
    assert_eq!(ready["dm_channels"].as_array().unwrap().len(), MAX_READY_PRIVATE_CHANNELS);
    let (_, ready) = Gw::identify(&s, &carol, Enc::Json).await;
    assert_eq!(ready["more_dm_channels"], false);

    // REST pages through all 101 by id.
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let (st, page) = bob.get(&s, &format!("/users/@me/channels?limit=60{after}")).await;
        assert_eq!(st, 200, "{page}");
        let ids: Vec<u64> = page.as_array().unwrap().iter().map(|c| id(&c["id"])).collect();
        if ids.is_empty() {
            break;
        }
        assert!(ids.len() <= 60);
        after = format!("&after={}", ids[ids.len() - 1]);
        all.extend(ids);
    }
    let mut want = groups.clone();
    want.push(dm);
    assert_eq!(all, want, "every channel once, by id");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friend_requests_dm_opens_and_group_dm_adds_are_rate_limited() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    // friend_requests: 10 at once (asking and cancelling again each time).
    for i in 0..10 {
        let (st, r) = alice.put(&s, &rel(&bob), json!({"type": "friend"})).await;
        assert_eq!(st, 200, "request {i}: {r}");
        alice.delete(&s, &rel(&bob)).await;
    }
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend"})).await;
    assert_eq!((st, code(&e)), (429, Some("rate_limited")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("friend_requests"), "{e}");
    // Accepting is not limited.
    bob.put(&s, &rel(&alice), json!({"type": "friend"})).await;
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "friend", "accept": true})).await;
    assert_eq!(st, 200, "{e}");
    // dm_opens: 10 at once, found-again DMs included.
    for _ in 0..10 {
        let (st, e) = open_dm(&s, &alice, &bob).await;
        assert!(st == 200 || st == 201, "{e}");
    }
    let (st, e) = open_dm(&s, &alice, &bob).await;
    assert_eq!((st, code(&e)), (429, Some("rate_limited")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("dm_opens"), "{e}");
    // group_dm_adds: 5 at once.
    for _ in 0..5 {
        let (st, e) = open_group(&s, &bob, &[&alice]).await;
        assert_eq!(st, 201, "{e}");
    }
    let (st, e) = open_group(&s, &bob, &[&alice]).await;
    assert_eq!((st, code(&e)), (429, Some("rate_limited")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("group_dm_adds"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_per_user_are_capped() {
    const MAX_RELATIONSHIPS: usize = 1000;
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    // Blocks need nobody's answer: fill Alice up with them.
    let mut ids = Vec::new();
    for i in 0..MAX_RELATIONSHIPS {
        let (st, u) = req(
            &s,
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": format!("u{i}"), "password": "password123"})),
        )
        .await;
        assert_eq!(st, 201, "{u}");
        ids.push(id(&u["id"]));
    }
    for uid in &ids {
        let (st, e) = alice.put(&s, &format!("/users/@me/relationships/{uid}"), json!({"type": "blocked"})).await;
        assert_eq!(st, 200, "{e}");
    }
    let (st, e) = alice.put(&s, &rel(&bob), json!({"type": "blocked"})).await;
    assert_eq!((st, code(&e)), (422, Some("limit_reached")), "{e}");
    // Bob cannot ask Alice either: she has no room for an incoming request.
    let (st, e) = bob.put(&s, &rel(&alice), json!({"type": "friend"})).await;
    assert_eq!((st, code(&e)), (422, Some("limit_reached")), "{e}");
    let (_, list) = alice.get(&s, "/users/@me/relationships").await;
    assert_eq!(list.as_array().unwrap().len(), MAX_RELATIONSHIPS);
    // Unblocking one makes room again.
    let (st, _) = alice.delete(&s, &format!("/users/@me/relationships/{}", ids[0])).await;
    assert_eq!(st, 204);
    let (st, _) = bob.put(&s, &rel(&alice), json!({"type": "friend"})).await;
    assert_eq!(st, 200);
}
