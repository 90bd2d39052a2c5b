//! Direct messages: 1:1 DMs (one channel per pair) and group DMs (add,
//! remove, leave, ownership, size limit, rename), with live events.

use serde_json::{json, Value};

use crate::common::*;

/// The error code of an error body.
fn code(v: &Value) -> Option<&str> {
    v["code"].as_str()
}

/// Ids in a JSON array of ids (or of objects with an `id`).
fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| if x.is_object() { id(&x["id"]) } else { id(x) })
        .collect()
}

/// Put users in one guild (the first creates it) and make them all friends:
/// guild members may DM each other, and friends may add each other to group DMs.
async fn neighbours(s: &Server, users: &[&User]) {
    let (_, general) = users[0].guild(s, "Neighbourhood").await;
    let code = users[0].invite(s, general, json!({})).await;
    for u in &users[1..] {
        u.join(s, &code).await;
    }
    for (i, a) in users.iter().enumerate() {
        for b in &users[i + 1..] {
            let (st, r) = a.put(s, &format!("/users/@me/relationships/{}", b.id), json!({"type": "friend"})).await;
            assert_eq!(st, 200, "{r}");
            let (st, r) = b
                .put(s, &format!("/users/@me/relationships/{}", a.id), json!({"type": "friend", "accept": true}))
                .await;
            assert_eq!(st, 200, "{r}");
        }
    }
}

/// Open a group DM as `owner` with `others`; returns its id.
async fn group(s: &Server, owner: &User, others: &[&User], name: Option<&str>) -> u64 {
    let mut body = json!({
        "recipient_ids": others.iter().map(|u| u.id.to_string()).collect::<Vec<_>>(),
    });
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    let (st, c) = owner.post(s, "/users/@me/channels", body).await;
    assert_eq!(st, 201, "{c}");
    id(&c["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_one_dm_is_found_again_and_stays_private() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    neighbours(&s, &[&alice, &bob, &carol]).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let (mut c, _) = Gw::identify(&s, &carol, Enc::Json).await;

    // Alice opens a DM with Bob: created, and both live sessions hear of it.
    let (st, dm) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": bob.id.to_string()})).await;
    assert_eq!(st, 201, "{dm}");
    assert_eq!(dm["kind"], "dm");
    assert!(dm["guild_id"].is_null());
    let dm_id = id(&dm["id"]);
    let mut recipients = ids(&dm["recipients"]);
    recipients.sort();
    let mut want = vec![alice.id, bob.id];
    want.sort();
    assert_eq!(recipients, want);
    let ca = a.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&ca["id"]), dm_id);
    let cb = b.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&cb["id"]), dm_id);
    assert!(cb["id"].is_u64(), "MessagePack ids are integers");

    // Asking again, from either side, finds the same channel (200, no new event).
    let (st, again) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": bob.id})).await;
    assert_eq!((st, id(&again["id"])), (200, dm_id), "{again}");
    let (st, from_bob) = bob.post(&s, "/users/@me/channels", json!({"recipient_id": alice.id.to_string()})).await;
    assert_eq!((st, id(&from_bob["id"])), (200, dm_id), "{from_bob}");
    a.expect_none("CHANNEL_CREATE").await;
    b.expect_none("CHANNEL_CREATE").await;

    // Alice writes over the gateway, Bob answers over REST: both see both.
    let acked = a.say(dm_id, "hi bob", "dm-1").await;
    let got = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(got["content"], "hi bob");
    assert_eq!(id(&got["id"]), id(&acked["id"]));
    assert_eq!(id(&got["channel_id"]), dm_id);
    assert!(got["guild_id"].is_null());
    let own = a.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&own["id"]), id(&acked["id"]));
    let rest = bob.say(&s, dm_id, "hey alice").await;
    let got = a.dispatch("MESSAGE_CREATE").await;
    assert_eq!((id(&got["id"]), &got["content"]), (id(&rest["id"]), &json!("hey alice")));
    let own = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&own["id"]), id(&rest["id"]));

    // Carol is no recipient: she heard nothing and can neither read nor write.
    c.expect_none("MESSAGE_CREATE").await;
    for f in c.drain(std::time::Duration::from_millis(100)).await {
        assert_ne!(f.t.as_deref(), Some("CHANNEL_CREATE"), "{:?}", f.d);
    }
    let (st, e) = carol.get(&s, &format!("/channels/{dm_id}/messages")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    let (st, e) = carol.post(&s, &format!("/channels/{dm_id}/messages"), json!({"content": "let me in"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    let (st, e) = carol.get(&s, &format!("/channels/{dm_id}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    c.send(40, json!({"channel_id": dm_id.to_string(), "content": "sneaky", "nonce": "c-1"})).await;
    let err = c.op(43).await;
    assert_eq!(err["code"], "unknown_channel", "{err}");
    assert_eq!(err["nonce"], "c-1");
    a.expect_none("MESSAGE_CREATE").await;

    // History holds exactly the two messages, for both recipients.
    for u in [&alice, &bob] {
        let (st, hist) = u.get(&s, &format!("/channels/{dm_id}/messages")).await;
        assert_eq!(st, 200, "{hist}");
        let contents: Vec<&str> = hist.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
        assert_eq!(contents, ["hi bob", "hey alice"]);
    }

    // Bad requests.
    let (st, e) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": alice.id})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": "12345"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");
    let (st, e) = alice.post(&s, "/users/@me/channels", json!({})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    // A 1:1 DM has no settings and cannot be deleted.
    let (st, e) = alice.patch(&s, &format!("/channels/{dm_id}"), json!({"name": "x"})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) = alice.delete(&s, &format!("/channels/{dm_id}")).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");

    // The DM list and a fresh READY both carry it; Carol's do not.
    let (st, list) = bob.get(&s, "/users/@me/channels").await;
    assert_eq!(st, 200);
    assert_eq!(ids(&list), vec![dm_id]);
    let (_, list) = carol.get(&s, "/users/@me/channels").await;
    assert_eq!(ids(&list), Vec::<u64>::new());
    let (_, ready) = Gw::identify(&s, &bob, Enc::Json).await;
    assert_eq!(ids(&ready["dm_channels"]), vec![dm_id]);
    let mut users = ids(&ready["dm_users"]);
    users.sort();
    assert_eq!(users, want);
    let alice_entry = ready["dm_users"].as_array().unwrap().iter().find(|u| id(&u["id"]) == alice.id).unwrap();
    assert_eq!(alice_entry["username"], "alice");
    let (_, ready_c) = Gw::identify(&s, &carol, Enc::MsgPack).await;
    assert_eq!(ready_c["dm_channels"], json!([]));
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_dm_members_come_and_go() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let dave = s.user("dave").await;
    neighbours(&s, &[&alice, &bob, &carol, &dave]).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let (mut c, _) = Gw::identify(&s, &carol, Enc::Json).await;
    let (mut d, _) = Gw::identify(&s, &dave, Enc::MsgPack).await;

    // Alice starts a group with Bob and Carol: she owns it, all three hear of it.
    let (st, g) = alice
        .post(
            &s,
            "/users/@me/channels",
            json!({"recipient_ids": [bob.id.to_string(), carol.id.to_string()], "name": "Trio"}),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    assert_eq!(g["kind"], "group_dm");
    assert_eq!(g["name"], "Trio");
    assert_eq!(id(&g["owner_id"]), alice.id);
    assert_eq!(ids(&g["recipients"]), vec![alice.id, bob.id, carol.id]);
    let gid = id(&g["id"]);
    for gw in [&mut a, &mut b, &mut c] {
        let ev = gw.dispatch("CHANNEL_CREATE").await;
        assert_eq!(id(&ev["id"]), gid);
        assert_eq!(ev["kind"], "group_dm");
    }

    // A message reaches all three, and not Dave.
    let acked = a.say(gid, "welcome", "g-1").await;
    for gw in [&mut a, &mut b, &mut c] {
        let m = gw.dispatch("MESSAGE_CREATE").await;
        assert_eq!(id(&m["id"]), id(&acked["id"]));
    }
    d.expect_none("MESSAGE_CREATE").await;

    // Alice adds Dave: he gets the channel, the others an update with four recipients.
    let (st, added) = alice.put(&s, &format!("/channels/{gid}/recipients/{}", dave.id), json!({})).await;
    assert_eq!(st, 200, "{added}");
    assert_eq!(ids(&added["recipients"]), vec![alice.id, bob.id, carol.id, dave.id]);
    let ev = d.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&ev["id"]), gid);
    assert_eq!(ids(&ev["recipients"]).len(), 4);
    for gw in [&mut a, &mut b, &mut c] {
        let ev = gw.dispatch("CHANNEL_UPDATE").await;
        assert_eq!(id(&ev["id"]), gid);
        assert!(ids(&ev["recipients"]).contains(&dave.id), "{ev}");
    }
    // Dave now receives messages and can read what came before.
    let m = carol.say(&s, gid, "hi dave").await;
    let got = d.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&got["id"]), id(&m["id"]));
    let (st, hist) = dave.get(&s, &format!("/channels/{gid}/messages")).await;
    assert_eq!(st, 200, "{hist}");
    assert_eq!(hist.as_array().unwrap().len(), 2);

    // Only the owner removes others.
    let (st, e) = bob.delete(&s, &format!("/channels/{gid}/recipients/{}", carol.id)).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");

    // Alice removes Dave: he loses the channel, its messages and its history.
    let (st, _) = alice.delete(&s, &format!("/channels/{gid}/recipients/{}", dave.id)).await;
    assert_eq!(st, 204);
    let ev = d.dispatch("CHANNEL_DELETE").await;
    assert_eq!(id(&ev["id"]), gid);
    for gw in [&mut a, &mut b, &mut c] {
        let ev = gw.dispatch_where("CHANNEL_UPDATE", |d| d["recipients"].as_array().unwrap().len() == 3).await;
        assert!(!ids(&ev["recipients"]).contains(&dave.id), "{ev}");
    }
    let m = alice.say(&s, gid, "dave is gone").await;
    let got = b.dispatch_where("MESSAGE_CREATE", |d| d["content"] == "dave is gone").await;
    assert_eq!(id(&got["id"]), id(&m["id"]));
    d.expect_none("MESSAGE_CREATE").await;
    let (st, e) = dave.get(&s, &format!("/channels/{gid}/messages")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    let (st, e) = dave.post(&s, &format!("/channels/{gid}/messages"), json!({"content": "still here?"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    let (_, list) = dave.get(&s, "/users/@me/channels").await;
    assert_eq!(ids(&list), Vec::<u64>::new());

    // Carol (not the owner) may leave on her own.
    let (st, _) = carol.delete(&s, &format!("/channels/{gid}/recipients/@me")).await;
    assert_eq!(st, 204);
    let ev = c.dispatch("CHANNEL_DELETE").await;
    assert_eq!(id(&ev["id"]), gid);
    let ev = b.dispatch_where("CHANNEL_UPDATE", |d| d["recipients"].as_array().unwrap().len() == 2).await;
    assert_eq!(ids(&ev["recipients"]), vec![alice.id, bob.id]);

    // The owner leaves: ownership passes to Bob, who may now remove people.
    let (st, _) = alice.delete(&s, &format!("/channels/{gid}/recipients/@me")).await;
    assert_eq!(st, 204);
    let ev = a.dispatch("CHANNEL_DELETE").await;
    assert_eq!(id(&ev["id"]), gid);
    let ev = b.dispatch_where("CHANNEL_UPDATE", |d| d["recipients"].as_array().unwrap().len() == 1).await;
    assert_eq!(id(&ev["owner_id"]), bob.id, "{ev}");
    let (st, ch) = bob.get(&s, &format!("/channels/{gid}")).await;
    assert_eq!(st, 200, "{ch}");
    assert_eq!(id(&ch["owner_id"]), bob.id);
    assert_eq!(ids(&ch["recipients"]), vec![bob.id]);
    let (st, _) = bob.put(&s, &format!("/channels/{gid}/recipients/{}", carol.id), json!({})).await;
    assert_eq!(st, 200);
    c.dispatch("CHANNEL_CREATE").await;
    let (st, _) = bob.delete(&s, &format!("/channels/{gid}/recipients/{}", carol.id)).await;
    assert_eq!(st, 204, "the new owner may remove others");
    c.dispatch("CHANNEL_DELETE").await;
    let (_, list) = alice.get(&s, "/users/@me/channels").await;
    assert_eq!(ids(&list), Vec::<u64>::new());

    // Removing someone who is not in it is refused; so is touching a 1:1 DM's recipients.
    let (st, e) = bob.delete(&s, &format!("/channels/{gid}/recipients/{}", dave.id)).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");
    let (_, dm) = bob.post(&s, "/users/@me/channels", json!({"recipient_id": dave.id})).await;
    let dm_id = id(&dm["id"]);
    let (st, e) = bob.put(&s, &format!("/channels/{dm_id}/recipients/{}", carol.id), json!({})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_dm_holds_at_most_ten_people() {
    let s = Server::start().await;
    let owner = s.user("owner").await;
    let mut others = Vec::new();
    for i in 0..11 {
        others.push(s.user(&format!("friend{i}")).await);
    }
    let refs: Vec<&User> = others.iter().collect();
    neighbours(&s, &[&[&owner][..], &refs].concat()).await;

    // Ten others plus the owner is eleven: refused.
    let (st, e) = owner
        .post(
            &s,
            "/users/@me/channels",
            json!({"recipient_ids": refs[..10].iter().map(|u| u.id.to_string()).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    // Nobody but yourself is too few.
    let (st, e) = owner.post(&s, "/users/@me/channels", json!({"recipient_ids": [owner.id.to_string()]})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    // An unknown user among them.
    let (st, e) =
        owner.post(&s, "/users/@me/channels", json!({"recipient_ids": [others[0].id.to_string(), "12345"]})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_user")), "{e}");

    // Nine others (duplicates and yourself ignored) is exactly ten: fine.
    let mut nine: Vec<String> = refs[..9].iter().map(|u| u.id.to_string()).collect();
    nine.push(others[0].id.to_string());
    nine.push(owner.id.to_string());
    let (st, g) = owner.post(&s, "/users/@me/channels", json!({"recipient_ids": nine})).await;
    assert_eq!(st, 201, "{g}");
    assert_eq!(ids(&g["recipients"]).len(), 10);
    let gid = id(&g["id"]);

    // An eleventh person cannot be added, by anyone.
    for adder in [&owner, &others[3]] {
        let (st, e) = adder.put(&s, &format!("/channels/{gid}/recipients/{}", others[10].id), json!({})).await;
        assert_eq!((st, code(&e)), (422, Some("limit_reached")), "{e}");
    }
    let (st, e) = others[10].get(&s, &format!("/channels/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");

    // Once someone leaves there is room again.
    let (st, _) = others[5].delete(&s, &format!("/channels/{gid}/recipients/@me")).await;
    assert_eq!(st, 204);
    let (st, added) = owner.put(&s, &format!("/channels/{gid}/recipients/{}", others[10].id), json!({})).await;
    assert_eq!(st, 200, "{added}");
    assert_eq!(ids(&added["recipients"]).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_group_dm_tells_everyone() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let outsider = s.user("outsider").await;
    neighbours(&s, &[&alice, &bob, &carol]).await;
    let gid = group(&s, &alice, &[&bob, &carol], None).await;
    let (st, ch) = bob.get(&s, &format!("/channels/{gid}")).await;
    assert_eq!(st, 200);
    assert!(ch["name"].is_null(), "{ch}");
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let (mut c, _) = Gw::identify(&s, &carol, Enc::Json).await;

    let (st, renamed) = alice.patch(&s, &format!("/channels/{gid}"), json!({"name": "  Book club  "})).await;
    assert_eq!(st, 200, "{renamed}");
    assert_eq!(renamed["name"], "Book club");
    for gw in [&mut b, &mut c] {
        let ev = gw.dispatch("CHANNEL_UPDATE").await;
        assert_eq!(id(&ev["id"]), gid);
        assert_eq!(ev["name"], "Book club");
    }
    let (_, ch) = carol.get(&s, &format!("/channels/{gid}")).await;
    assert_eq!(ch["name"], "Book club");

    // Group DMs only have a name; strangers cannot touch them.
    let (st, e) = alice.patch(&s, &format!("/channels/{gid}"), json!({"topic": "books"})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) = alice.patch(&s, &format!("/channels/{gid}"), json!({"name": ""})).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
    let (st, e) = outsider.patch(&s, &format!("/channels/{gid}"), json!({"name": "mine"})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");
    b.expect_none("CHANNEL_UPDATE").await;
    // A group DM cannot be deleted, only left.
    let (st, e) = alice.delete(&s, &format!("/channels/{gid}")).await;
    assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{e}");
}
