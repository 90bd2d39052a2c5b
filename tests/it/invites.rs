//! Invites: preview, join with live events, use and age limits, listing and
//! revoking under manage_guild, and the create_invites permission.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// The error code of an error body.
fn code(v: &Value) -> Option<&str> {
    v["code"].as_str()
}

/// @everyone's default permissions (src/model/permissions.rs DEFAULT_EVERYONE):
/// bits 0, 6, 10, 11, 14, 15, 16, 20, 21, 25, 26.
const DEFAULT_EVERYONE: u64 = (1 << 0)
    | (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 20)
    | (1 << 21)
    | (1 << 25)
    | (1 << 26);
/// CREATE_INVITES is bit 0.
const CREATE_INVITES: u64 = 1 << 0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_then_join_with_live_events() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;
    let code_ = alice.invite(&s, general, json!({})).await;

    // Bob looks before he leaps: the preview shows the guild, and he is not in it.
    let (st, p) = bob.get(&s, &format!("/invites/{code_}")).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["code"], code_.as_str());
    assert_eq!(id(&p["guild"]["id"]), gid);
    assert_eq!(p["guild"]["name"], "Lodge");
    assert_eq!(p["member_count"], 1);
    assert_eq!(id(&p["channel_id"]), general);
    assert_eq!(p["channel_name"], "general");
    assert!(p["expires_at"].is_u64(), "default invites expire: {p}");
    let (st, e) = bob.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (_, mine) = bob.get(&s, "/users/@me/guilds").await;
    assert_eq!(mine, json!([]));
    let (st, e) = bob.get(&s, "/invites/nosuchcode").await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");

    // Both are online when Bob joins.
    let (mut a, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut b, ready_b) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    assert_eq!(ready_b["guilds"], json!([]));
    let (st, g) = bob.post(&s, &format!("/invites/{code_}"), json!({})).await;
    assert_eq!(st, 200, "{g}");
    assert_eq!(id(&g["id"]), gid);

    // Bob's session gets the whole guild; Alice's hears that Bob arrived.
    let gc = b.dispatch("GUILD_CREATE").await;
    assert_eq!(id(&gc["guild"]["id"]), gid);
    assert_eq!(id(&gc["member"]["user"]["id"]), bob.id);
    assert_eq!(gc["member_count"], 2);
    let chans = gc["channels"].as_array().unwrap();
    assert!(chans.iter().any(|c| id(&c["id"]) == general && c["kind"] == "text"));
    assert!(chans.iter().any(|c| c["kind"] == "voice"));
    assert!(gc["roles"].as_array().unwrap().iter().any(|r| r["name"] == "@everyone"));
    let add = a.dispatch("GUILD_MEMBER_ADD").await;
    assert_eq!(id(&add["user"]["id"]), bob.id);
    assert_eq!(id(&add["guild_id"]), gid);

    // And from now on Bob's session receives the guild's messages.
    let m = alice.say(&s, general, "welcome bob").await;
    let got = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&got["id"]), id(&m["id"]));
    let acked = b.say(general, "thanks", "b-1").await;
    let got = a.dispatch_where("MESSAGE_CREATE", |d| d["content"] == "thanks").await;
    assert_eq!(id(&got["id"]), id(&acked["id"]));

    // Joining twice is a conflict; the member count did not move.
    let (st, e) = bob.post(&s, &format!("/invites/{code_}"), json!({})).await;
    assert_eq!((st, code(&e)), (409, Some("conflict")), "{e}");
    let (st, p) = alice.get(&s, &format!("/invites/{code_}")).await;
    assert_eq!((st, &p["member_count"]), (200, &json!(2)), "{p}");
    let (st, g) = bob.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, &g["name"]), (200, &json!("Lodge")));
    let (_, mine) = bob.get(&s, "/users/@me/guilds").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // Joining with an unknown code.
    let (st, e) = bob.post(&s, "/invites/nosuchcode", json!({})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_and_short_lived_invites_run_out() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let dave = s.user("dave").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;

    // One use: Bob takes it, Carol is too late, and the preview is gone too.
    let once = alice.invite(&s, general, json!({"max_uses": 1})).await;
    bob.join(&s, &once).await;
    let (st, e) = carol.post(&s, &format!("/invites/{once}"), json!({})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = carol.get(&s, &format!("/invites/{once}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = carol.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");

    // One second: usable at once, gone after it.
    let started = std::time::Instant::now();
    let (st, inv) = alice.post(&s, &format!("/channels/{general}/invites"), json!({"max_age_secs": 1})).await;
    assert_eq!(st, 201, "{inv}");
    assert_eq!(inv["expires_at"].as_u64().unwrap() - inv["created_at"].as_u64().unwrap(), 1000);
    let short = inv["code"].as_str().unwrap().to_string();
    let (st, _) = dave.get(&s, &format!("/invites/{short}")).await;
    assert_eq!(st, 200);
    carol.join(&s, &short).await;
    // Gone once its second is up: poll for the refusal rather than sleep past it.
    let gone = eventually_async(WAIT, "the invite expiring", || async {
        let (st, e) = dave.get(&s, &format!("/invites/{short}")).await;
        (st != 200).then_some((st, e))
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(900), "expired early: {:?}", started.elapsed());
    let (st, e) = gone;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = dave.post(&s, &format!("/invites/{short}"), json!({})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");

    // Zero means never; the bounds are inclusive.
    let (st, inv) =
        alice.post(&s, &format!("/channels/{general}/invites"), json!({"max_age_secs": 0, "max_uses": 100000})).await;
    assert_eq!(st, 201, "{inv}");
    assert!(inv["expires_at"].is_null(), "{inv}");
    assert_eq!(inv["max_uses"], 100000);
    let (st, inv) = alice.post(&s, &format!("/channels/{general}/invites"), json!({"max_age_secs": 604800})).await;
    assert_eq!(st, 201, "{inv}");
    assert!(inv["max_uses"].is_null());

    for bad in
        [json!({"max_uses": 0}), json!({"max_uses": 100001}), json!({"max_age_secs": 604801}), json!({"max_uses": -1})]
    {
        let (st, e) = alice.post(&s, &format!("/channels/{general}/invites"), bad.clone()).await;
        assert_eq!((st, code(&e)), (400, Some("invalid_body")), "{bad}: {e}");
    }
    // Members after all this: Alice, Bob and Carol.
    let (_, members) = alice.get(&s, &format!("/guilds/{gid}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_and_revoking_invites() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;
    let alices = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &alices).await;
    // Plain members may create invites (create_invites is in @everyone's defaults).
    let bobs = bob.invite(&s, general, json!({"max_uses": 5})).await;

    // Listing needs manage_guild.
    let (st, e) = bob.get(&s, &format!("/guilds/{gid}/invites")).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    let (st, e) = carol.get(&s, &format!("/guilds/{gid}/invites")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_guild")), "{e}");
    let (st, list) = alice.get(&s, &format!("/guilds/{gid}/invites")).await;
    assert_eq!(st, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let a_inv = list.iter().find(|i| i["code"] == alices.as_str()).unwrap();
    assert_eq!(a_inv["uses"], 1, "Bob's join is counted");
    assert_eq!(id(&a_inv["inviter_id"]), alice.id);
    let b_inv = list.iter().find(|i| i["code"] == bobs.as_str()).unwrap();
    assert_eq!((b_inv["uses"].as_u64(), b_inv["max_uses"].as_u64()), (Some(0), Some(5)));
    assert_eq!(id(&b_inv["inviter_id"]), bob.id);
    carol.join(&s, &bobs).await;
    let (_, list) = alice.get(&s, &format!("/guilds/{gid}/invites")).await;
    let b_inv = list.as_array().unwrap().iter().find(|i| i["code"] == bobs.as_str()).unwrap().clone();
    assert_eq!(b_inv["uses"], 1);

    // Revoking someone else's invite needs manage_guild; your own is fine.
    let (st, e) = bob.delete(&s, &format!("/invites/{alices}")).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    let (st, _) = alice.get(&s, &format!("/invites/{alices}")).await;
    assert_eq!(st, 200, "a refused revoke changes nothing");
    let (st, _) = bob.delete(&s, &format!("/invites/{bobs}")).await;
    assert_eq!(st, 204);
    let (st, e) = alice.get(&s, &format!("/invites/{bobs}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");

    // The owner revokes hers: the code is dead for previews and joins.
    let dave = s.user("dave").await;
    let (st, e) = dave.delete(&s, &format!("/invites/{alices}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "outsiders learn nothing: {e}");
    let (st, _) = alice.delete(&s, &format!("/invites/{alices}")).await;
    assert_eq!(st, 204);
    let (st, e) = dave.get(&s, &format!("/invites/{alices}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = dave.post(&s, &format!("/invites/{alices}"), json!({})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (st, e) = alice.delete(&s, &format!("/invites/{alices}")).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_invite")), "{e}");
    let (_, list) = alice.get(&s, &format!("/guilds/{gid}/invites")).await;
    assert_eq!(list, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_invites_can_be_taken_from_everyone() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;
    let code_ = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code_).await;
    bob.invite(&s, general, json!({})).await;

    // Outsiders cannot create invites at all: the channel is invisible to them.
    let (st, e) = carol.post(&s, &format!("/channels/{general}/invites"), json!({})).await;
    assert_eq!((st, code(&e)), (404, Some("unknown_channel")), "{e}");

    // The owner takes create_invites away from @everyone.
    let (st, roles) = alice.get(&s, &format!("/guilds/{gid}/roles")).await;
    assert_eq!(st, 200);
    let everyone = roles.as_array().unwrap().iter().find(|r| id(&r["id"]) == gid).unwrap();
    assert_eq!(everyone["permissions"], DEFAULT_EVERYONE.to_string());
    let without = DEFAULT_EVERYONE & !CREATE_INVITES;
    let (st, r) =
        alice.patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": without.to_string()})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["permissions"], without.to_string());

    // Bob can no longer invite; the owner still can.
    let (st, e) = bob.post(&s, &format!("/channels/{general}/invites"), json!({})).await;
    assert_eq!((st, code(&e)), (403, Some("missing_permissions")), "{e}");
    alice.invite(&s, general, json!({})).await;

    // Given back, Bob may invite again.
    let (st, _) = alice
        .patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": DEFAULT_EVERYONE.to_string()}))
        .await;
    assert_eq!(st, 200);
    let c = bob.invite(&s, general, json!({})).await;
    carol.join(&s, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_follow_their_channel_and_spent_ones_are_purged() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "g").await;
    let (_, cat) =
        alice.post(&s, &format!("/guilds/{gid}/channels"), serde_json::json!({"name": "C", "kind": "category"})).await;
    let (st, e) = alice.post(&s, &format!("/channels/{}/invites", id(&cat["id"])), serde_json::json!({})).await;
    assert_eq!((st, e["code"].as_str()), (400, Some("invalid_body")), "no invites to categories");
    let (_, extra) = alice.post(&s, &format!("/guilds/{gid}/channels"), serde_json::json!({"name": "extra"})).await;
    let code = alice.invite(&s, id(&extra["id"]), serde_json::json!({})).await;
    let spent = alice.invite(&s, general, serde_json::json!({"max_uses": 1})).await;
    bob.join(&s, &spent).await;
    // Deleting the channel deletes its invite.
    let (st, _) = alice.delete(&s, &format!("/channels/{}", id(&extra["id"]))).await;
    assert_eq!(st, 204);
    let (st, _) = bob.get(&s, &format!("/invites/{code}")).await;
    assert_eq!(st, 404);
    // The used-up invite is purged when the next one is made.
    alice.invite(&s, general, serde_json::json!({})).await;
    let (_, list) = alice.get(&s, &format!("/guilds/{gid}/invites")).await;
    let codes: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert!(!codes.contains(&spent.as_str()) && !codes.contains(&code.as_str()));
}
