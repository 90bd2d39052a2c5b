//! Message actions over REST, seen over the gateway: edit (with kept
//! versions), delete, bulk delete, replies, mentions and embeds — and each
//! refusal, after which nothing has changed.

use serde_json::{json, Value};

use crate::common::*;

/// Alice owns a guild; Bob is a member. Both on the gateway (Alice MessagePack, Bob JSON).
async fn lodge(s: &Server) -> (User, User, u64, u64, Gw, Gw) {
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(s, "Lodge").await;
    let code = alice.invite(s, general, json!({})).await;
    bob.join(s, &code).await;
    let (a, _) = Gw::identify(s, &alice, Enc::MsgPack).await;
    let (b, _) = Gw::identify(s, &bob, Enc::Json).await;
    (alice, bob, gid, general, a, b)
}

fn msg_path(c: u64, m: &Value) -> String {
    format!("/channels/{c}/messages/{}", id(&m["id"]))
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_keep_versions_for_moderators_and_only_authors_edit() {
    let s = Server::start().await;
    let (alice, bob, _gid, general, mut a, mut b) = lodge(&s).await;
    let m = bob.say(&s, general, "helo").await;
    let p = msg_path(general, &m);
    assert!(m["edited_at"].is_null() && m["kind"] == "default");

    // Bob edits his message: everyone hears MESSAGE_UPDATE with edited_at set.
    let (st, edited) = bob.patch(&s, &p, json!({"content": " hello "})).await;
    assert_eq!(st, 200, "{edited}");
    assert_eq!(edited["content"], "hello");
    let ev = a.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(ev["content"], "hello");
    assert!(ev["edited_at"].as_u64().unwrap() >= ev["created_at"].as_u64().unwrap());
    b.dispatch("MESSAGE_UPDATE").await;

    // Nobody else edits it, not even the owner; bad content is refused; nothing changes.
    let (st, e) = alice.patch(&s, &p, json!({"content": "mine now"})).await;
    assert_eq!((st, code(&e)), (403, "cannot_edit_message"));
    let (st, e) = bob.patch(&s, &p, json!({"content": "  "})).await;
    assert_eq!((st, code(&e)), (400, "invalid_body"));
    let (st, e) = bob.patch(&s, &p, json!({"content": "x".repeat(4001)})).await;
    assert_eq!((st, code(&e)), (400, "invalid_body"));
    let (st, e) = bob.patch(&s, &p, json!({})).await;
    assert_eq!((st, code(&e)), (400, "invalid_body"), "an empty PATCH");
    // The same text again: 200, no write, no event.
    let (st, same) = bob.patch(&s, &p, json!({"content": "hello"})).await;
    assert_eq!((st, same["edited_at"].clone()), (200, edited["edited_at"].clone()));
    b.expect_none("MESSAGE_UPDATE").await;
    let (_, now) = bob.get(&s, &p).await;
    assert_eq!(now["content"], "hello");

    // Earlier versions: manage_messages only (the owner has it, Bob does not).
    let (st, e) = bob.get(&s, &format!("{p}/versions")).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    bob.patch(&s, &p, json!({"content": "hello there"})).await;
    let (st, versions) = alice.get(&s, &format!("{p}/versions")).await;
    assert_eq!(st, 200, "{versions}");
    let contents: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["helo", "hello"], "oldest first");
    assert!(versions[1]["replaced_at"].as_u64() >= versions[1]["created_at"].as_u64());

    // An edit over MessagePack works the same.
    let (st, e) = req_msgpack(&s, "PATCH", &p, &bob.token, json!({"content": "packed"})).await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(a.dispatch_where("MESSAGE_UPDATE", |d| d["content"] == "packed").await["content"], "packed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_and_moderators_delete_and_deleted_content_is_gone() {
    let s = Server::start().await;
    let (alice, bob, _gid, general, mut a, mut b) = lodge(&s).await;
    let by_alice = alice.say(&s, general, "alice's").await;
    let by_bob = bob.say(&s, general, "bob's secret").await;
    bob.patch(&s, &msg_path(general, &by_bob), json!({"content": "bob's edited secret"})).await;

    // Bob may not delete Alice's message; nothing changes.
    let (st, e) = bob.delete(&s, &msg_path(general, &by_alice)).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    assert_eq!(bob.get(&s, &msg_path(general, &by_alice)).await.0, 200);

    // The owner (manage_messages) deletes Bob's: MESSAGE_DELETE to both.
    let (st, _) = alice.delete(&s, &msg_path(general, &by_bob)).await;
    assert_eq!(st, 204);
    let ev = b.dispatch("MESSAGE_DELETE").await;
    assert_eq!(id(&ev["id"]), id(&by_bob["id"]));
    assert_eq!(id(&ev["channel_id"]), general);
    a.dispatch("MESSAGE_DELETE").await;
    // Gone: not in history, not fetchable, no versions left behind.
    let (st, e) = alice.get(&s, &msg_path(general, &by_bob)).await;
    assert_eq!((st, code(&e)), (404, "unknown_message"));
    let (st, _) = alice.get(&s, &format!("{}/versions", msg_path(general, &by_bob))).await;
    assert_eq!(st, 404);
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    assert!(!hist.to_string().contains("secret"), "{hist}");
    // Deleting it again: unknown.
    assert_eq!(alice.delete(&s, &msg_path(general, &by_bob)).await.0, 404);
    // Alice deletes her own.
    assert_eq!(alice.delete(&s, &msg_path(general, &by_alice)).await.0, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_delete_is_for_moderators_recent_messages_of_one_channel_all_or_nothing() {
    let s = Server::start().await;
    let (alice, bob, gid, general, _a, mut b) = lodge(&s).await;
    let (_, other) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "other"})).await;
    let other = id(&other["id"]);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id(&bob.say(&s, general, &format!("spam {i}")).await["id"]).to_string());
    }
    let elsewhere = id(&alice.say(&s, other, "elsewhere").await["id"]).to_string();
    let bulk = format!("/channels/{general}/messages/bulk-delete");

    let (st, e) = bob.post(&s, &bulk, json!({"messages": ids})).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"));
    let (st, e) = alice.post(&s, &bulk, json!({"messages": [ids[0]]})).await;
    assert_eq!((st, code(&e)), (400, "invalid_body"), "one id is not a bulk");
    let (st, e) = alice.post(&s, &bulk, json!({"messages": [ids[0], ids[0]]})).await;
    assert_eq!((st, code(&e)), (400, "invalid_body"), "duplicates");
    let (st, e) = alice.post(&s, &bulk, json!({"messages": [ids[0], elsewhere]})).await;
    assert_eq!((st, code(&e)), (404, "unknown_message"), "{e}");
    // A snowflake of 20 days ago.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let old = ((now_ms - 20 * 86_400_000 - 1_735_689_600_000) << 22).to_string();
    let (st, e) = alice.post(&s, &bulk, json!({"messages": [ids[0], old]})).await;
    assert_eq!((st, code(&e)), (400, "message_too_old"), "{e}");
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    assert_eq!(hist.as_array().unwrap().len(), 3, "refusals deleted nothing");

    let (st, e) = alice.post(&s, &bulk, json!({"messages": ids})).await;
    assert_eq!(st, 204, "{e}");
    let ev = b.dispatch("MESSAGE_DELETE_BULK").await;
    assert_eq!(ev["ids"].as_array().unwrap().len(), 3);
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    assert!(hist.as_array().unwrap().is_empty());
    assert_eq!(alice.get(&s, &format!("/channels/{other}/messages")).await.1.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_carry_a_picture_of_the_original_ping_its_author_and_survive_its_deletion() {
    let s = Server::start().await;
    let (alice, bob, gid, general, mut a, mut b) = lodge(&s).await;
    let original = alice.say(&s, general, &format!("question? {}", "x".repeat(200))).await;
    let msgs = format!("/channels/{general}/messages");

    // Bob replies over the gateway: the reply pings Alice and shows her first 100 characters.
    b.send(
        40,
        json!({"channel_id": general.to_string(), "content": "answer", "nonce": "r1",
        "message_reference": {"message_id": original["id"]}}),
    )
    .await;
    let ack = b.op(41).await;
    let reply = &ack["message"];
    assert_eq!(reply["kind"], "reply");
    assert_eq!(id(&reply["message_reference"]["message_id"]), id(&original["id"]));
    assert_eq!(reply["referenced_message"]["content"].as_str().unwrap().chars().count(), 100);
    assert_eq!(id(&reply["referenced_message"]["author"]["id"]), alice.id);
    assert_eq!(id(&reply["mentions"][0]["id"]), alice.id, "replying pings the original's author");
    let ev = a.dispatch_where("MESSAGE_CREATE", |d| d["kind"] == "reply").await;
    assert!(!ev["referenced_message"].is_null());

    // Without the ping.
    let (st, quiet) = bob
        .post(
            &s,
            &msgs,
            json!({"content": "quiet", "message_reference": {"message_id": original["id"]},
            "allowed_mentions": {"parse": ["users"], "replied_user": false}}),
        )
        .await;
    assert_eq!(st, 201, "{quiet}");
    assert!(quiet["mentions"].as_array().unwrap().is_empty());

    // Across channels, or to nothing: refused, nothing sent.
    let (_, other) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "other"})).await;
    let elsewhere = alice.say(&s, id(&other["id"]), "elsewhere").await;
    let (st, e) =
        bob.post(&s, &msgs, json!({"content": "x", "message_reference": {"message_id": elsewhere["id"]}})).await;
    assert_eq!((st, code(&e)), (400, "invalid_reference"));
    let (st, e) = bob
        .post(
            &s,
            &msgs,
            json!({"content": "x", "message_reference":
            {"message_id": original["id"], "channel_id": other["id"]}}),
        )
        .await;
    assert_eq!((st, code(&e)), (400, "invalid_reference"));
    let (_, hist) = bob.get(&s, &msgs).await;
    assert_eq!(hist.as_array().unwrap().len(), 3);

    // The original is deleted: the reply stays, pointing at it, with no picture left.
    alice.delete(&s, &msg_path(general, &original)).await;
    let (_, r) = bob.get(&s, &msg_path(general, reply)).await;
    assert!(r["referenced_message"].is_null(), "{r}");
    assert_eq!(id(&r["message_reference"]["message_id"]), id(&original["id"]));
    assert!(!bob.get(&s, &msgs).await.1.to_string().contains("question?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_resolve_users_roles_and_everyone_by_the_rules() {
    let s = Server::start().await;
    let (alice, bob, gid, general, _a, mut b) = lodge(&s).await;
    let msgs = format!("/channels/{general}/messages");
    let (_, quiet_role) = alice.post(&s, &format!("/guilds/{gid}/roles"), json!({"name": "quiet"})).await;
    let (_, loud_role) =
        alice.post(&s, &format!("/guilds/{gid}/roles"), json!({"name": "loud", "mentionable": true})).await;
    assert_eq!(loud_role["mentionable"], true);
    let (q, l) = (id(&quiet_role["id"]), id(&loud_role["id"]));

    // Bob (no mention_everyone): users and mentionable roles ping, the rest is text.
    let text = format!("<@{}> <@&{q}> <@&{l}> @everyone <#{general}>", alice.id);
    let (st, m) = bob.post(&s, &msgs, json!({"content": text})).await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(id(&m["mentions"][0]["id"]), alice.id);
    assert_eq!(m["mentions"][0]["username"], "alice");
    let roles: Vec<u64> = m["mention_roles"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(roles, [l]);
    assert_eq!(m["mention_everyone"], false);
    assert_eq!(m["content"], text, "the text is kept as written");

    // Alice (owner: mention_everyone) pings everyone and any role; a sender can suppress pings.
    let (_, m) = alice.post(&s, &msgs, json!({"content": format!("@here <@&{q}>")})).await;
    assert_eq!(m["mention_everyone"], true);
    assert_eq!(m["mention_roles"].as_array().unwrap().len(), 1);
    let ev = b.dispatch_where("MESSAGE_CREATE", |d| d["mention_everyone"] == true).await;
    assert_eq!(ev["content"], format!("@here <@&{q}>"));
    let (_, m) = alice
        .post(&s, &msgs, json!({"content": format!("@everyone <@{}>", bob.id), "allowed_mentions": {"parse": []}}))
        .await;
    assert_eq!(m["mention_everyone"], false);
    assert!(m["mentions"].as_array().unwrap().is_empty());

    // Unknown ids are refused; nothing is sent.
    let before = alice.get(&s, &msgs).await.1.as_array().unwrap().len();
    for bad in ["<@999999>", "<@&999999>", "<#999999>"] {
        let (st, e) = bob.post(&s, &msgs, json!({"content": bad})).await;
        assert_eq!((st, code(&e)), (400, "unknown_mention"), "{bad}: {e}");
    }
    let (st, e) = bob
        .post(
            &s,
            &msgs,
            json!({"content": "x", "allowed_mentions": {"parse": ["users"], "users": [alice.id.to_string()]}}),
        )
        .await;
    assert_eq!((st, code(&e)), (400, "invalid_body"), "contradictory allowed_mentions");
    assert_eq!(alice.get(&s, &msgs).await.1.as_array().unwrap().len(), before);

    // A mentionable flag can be changed.
    let (st, r) = alice.patch(&s, &format!("/guilds/{gid}/roles/{q}"), json!({"mentionable": true})).await;
    assert_eq!((st, r["mentionable"].clone()), (200, json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeds_are_checked_and_need_embed_links() {
    let s = Server::start().await;
    let (alice, bob, gid, general, _a, mut b) = lodge(&s).await;
    let msgs = format!("/channels/{general}/messages");
    let embed = json!({"title": "Server up", "url": "https://game.example/status", "color": 0x00ff00,
        "fields": [{"name": "players", "value": "12", "inline": true}],
        "image": {"url": "https://game.example/map.png"}, "footer": {"text": "tick 42"}});
    let (st, m) = alice.post(&s, &msgs, json!({"embeds": [embed]})).await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["content"], "", "embeds alone are a message");
    assert_eq!(m["embeds"][0]["fields"][0]["value"], "12");
    let ev = b.dispatch_where("MESSAGE_CREATE", |d| !d["embeds"].as_array().unwrap().is_empty()).await;
    assert_eq!(ev["embeds"][0]["title"], "Server up");

    for (bad, what) in [
        (json!({"title": "x", "url": "javascript:alert(1)"}), "script url"),
        (json!({"title": "x".repeat(257)}), "long title"),
        (json!({}), "empty embed"),
        (
            json!({"description": "d".repeat(4000), "title": "t", "fields": [{"name": "n", "value": "v".repeat(1024)}, {"name": "n", "value": "v".repeat(1024)}]}),
            "over 6000 in total",
        ),
    ] {
        let (st, e) = alice.post(&s, &msgs, json!({"embeds": [bad]})).await;
        assert_eq!((st, code(&e)), (400, "invalid_body"), "{what}: {e}");
    }
    // Without embed_links (taken from @everyone), Bob cannot post embeds.
    let (_, roles) = alice.get(&s, &format!("/guilds/{gid}/roles")).await;
    let everyone = roles.as_array().unwrap().iter().find(|r| r["name"] == "@everyone").unwrap();
    let perms: u64 = everyone["permissions"].as_str().unwrap().parse().unwrap();
    let without = (perms & !(1 << 14)).to_string();
    alice.patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": without})).await;
    let (st, e) = bob.post(&s, &msgs, json!({"content": "x", "embeds": [{"title": "t"}]})).await;
    assert_eq!((st, code(&e)), (403, "missing_permissions"), "{e}");
}
