//! Permissions in practice: who receives what, who may do what, and changes
//! taking effect for live sessions at once.

use serde_json::{json, Value};

use crate::common::*;

const VIEW: u64 = 1 << 10;
const SEND: u64 = 1 << 11;
const KICK: u64 = 1 << 1;
const ADMIN: u64 = 1 << 3;
const MANAGE_NICKNAMES: u64 = 1 << 27;
const MANAGE_ROLES: u64 = 1 << 28;

fn p(bits: u64) -> Value {
    Value::String(bits.to_string())
}

struct Setup {
    s: Server,
    alice: User,
    bob: User,
    carol: User,
    gid: u64,
    secret: u64,
    announcements: u64,
    insiders: u64,
}

/// alice owns the guild; bob holds the "insiders" role; carol is a plain member.
/// #secret is visible only to insiders; #announcements is read-only for @everyone.
async fn setup() -> Setup {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let (gid, general) = alice.guild(&s, "Club").await;
    let code = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code).await;
    carol.join(&s, &code).await;
    let (st, role) = alice.post(&s, &format!("/guilds/{gid}/roles"), json!({"name": "insiders"})).await;
    assert_eq!(st, 201, "{role}");
    let insiders = id(&role["id"]);
    let (st, _) = alice.put(&s, &format!("/guilds/{gid}/members/{}/roles/{insiders}", bob.id), json!({})).await;
    assert_eq!(st, 204);
    let (st, c) = alice
        .post(
            &s,
            &format!("/guilds/{gid}/channels"),
            json!({"name": "secret", "overwrites": [
                {"id": gid.to_string(), "kind": "role", "allow": "0", "deny": p(VIEW)},
                {"id": insiders.to_string(), "kind": "role", "allow": p(VIEW), "deny": "0"},
            ]}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let secret = id(&c["id"]);
    let (st, c) = alice
        .post(
            &s,
            &format!("/guilds/{gid}/channels"),
            json!({"name": "announcements", "overwrites": [
                {"id": gid.to_string(), "kind": "role", "allow": "0", "deny": p(SEND)},
            ]}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    Setup { s, alice, bob, carol, gid, secret, announcements: id(&c["id"]), insiders }
}

fn channel_ids(ready: &Value) -> Vec<u64> {
    ready["guilds"][0]["channels"].as_array().unwrap().iter().map(|c| id(&c["id"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_permission_receives_nothing_and_is_refused() {
    let t = setup().await;
    let s = &t.s;
    let (mut a, _) = Gw::identify(s, &t.alice, Enc::Json).await;
    let (mut b, ready_b) = Gw::identify(s, &t.bob, Enc::MsgPack).await;
    let (mut c, ready_c) = Gw::identify(s, &t.carol, Enc::Json).await;
    assert!(channel_ids(&ready_b).contains(&t.secret));
    assert!(!channel_ids(&ready_c).contains(&t.secret), "carol's READY must not list #secret");

    a.say(t.secret, "for insiders only", "s1").await;
    let got = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(got["content"], "for insiders only");
    c.expect_none("MESSAGE_CREATE").await;

    // Carol cannot see #secret at all: 404, not 403, everywhere.
    for (st, e) in [
        t.carol.get(s, &format!("/channels/{}", t.secret)).await,
        t.carol.get(s, &format!("/channels/{}/messages", t.secret)).await,
        t.carol.post(s, &format!("/channels/{}/messages", t.secret), json!({"content": "let me in"})).await,
        t.carol.post(s, &format!("/channels/{}/typing", t.secret), json!({})).await,
    ] {
        assert_eq!((st, e["code"].as_str()), (404, Some("unknown_channel")), "{e}");
    }
    c.send(40, json!({"channel_id": t.secret.to_string(), "content": "let me in", "nonce": "x"})).await;
    let err = c.op(43).await;
    assert_eq!(err["code"], "unknown_channel");
    assert_eq!(err["nonce"], "x");
    c.send(42, json!({"channel_id": t.secret.to_string()})).await;
    assert_eq!(c.op(43).await["code"], "unknown_channel");
    let (_, list) = t.carol.get(s, &format!("/guilds/{}/channels", t.gid)).await;
    assert!(!list.as_array().unwrap().iter().any(|ch| id(&ch["id"]) == t.secret));

    // #announcements: carol can read but not write (403 now: she can see it).
    t.alice.say(s, t.announcements, "news").await;
    assert_eq!(c.dispatch("MESSAGE_CREATE").await["content"], "news");
    let (st, e) = t.carol.post(s, &format!("/channels/{}/messages", t.announcements), json!({"content": "hi"})).await;
    assert_eq!((st, e["code"].as_str()), (403, Some("missing_permissions")));
    c.send(40, json!({"channel_id": t.announcements.to_string(), "content": "hi", "nonce": "y"})).await;
    assert_eq!(c.op(43).await["code"], "missing_permissions");
    let (st, _) = t.carol.get(s, &format!("/channels/{}/messages", t.announcements)).await;
    assert_eq!(st, 200);
    // Nothing carol tried reached anyone.
    for f in b.drain(QUIET).await {
        if f.t.as_deref() == Some("MESSAGE_CREATE") {
            assert_eq!(f.d["content"], "news", "only alice's message may arrive: {:?}", f.d);
        }
    }
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_overwrite_change_cuts_one_reader_off_and_lets_another_in() {
    let t = setup().await;
    let s = &t.s;
    let (mut b, _) = Gw::identify(s, &t.bob, Enc::Json).await;
    let (mut c, _) = Gw::identify(s, &t.carol, Enc::MsgPack).await;
    t.alice.say(s, t.secret, "before").await;
    assert_eq!(b.dispatch("MESSAGE_CREATE").await["content"], "before");

    // A member overwrite denies bob; carol gets a member overwrite allowing her.
    let (st, _) = t
        .alice
        .put(s, &format!("/channels/{}/permissions/{}", t.secret, t.bob.id), json!({"kind": "member", "deny": p(VIEW)}))
        .await;
    assert_eq!(st, 200);
    let gone = b.dispatch("CHANNEL_DELETE").await;
    assert_eq!(id(&gone["id"]), t.secret);
    let (st, _) = t
        .alice
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.secret, t.carol.id),
            json!({"kind": "member", "allow": p(VIEW)}),
        )
        .await;
    assert_eq!(st, 200);
    let appeared = c.dispatch("CHANNEL_CREATE").await;
    assert_eq!(id(&appeared["id"]), t.secret);

    // The very next message goes to carol and not to bob.
    t.alice.say(s, t.secret, "after").await;
    assert_eq!(c.dispatch("MESSAGE_CREATE").await["content"], "after");
    b.expect_none("MESSAGE_CREATE").await;
    let (st, _) = t.bob.get(s, &format!("/channels/{}/messages", t.secret)).await;
    assert_eq!(st, 404);
    let (st, h) = t.carol.get(s, &format!("/channels/{}/messages", t.secret)).await;
    assert_eq!(st, 200);
    assert_eq!(h.as_array().unwrap().len(), 2, "carol now reads the history too");

    // Removing bob's overwrite gives his role access back at once.
    let (st, _) = t.alice.delete(s, &format!("/channels/{}/permissions/{}", t.secret, t.bob.id)).await;
    assert_eq!(st, 200);
    assert_eq!(id(&b.dispatch("CHANNEL_CREATE").await["id"]), t.secret);
    t.alice.say(s, t.secret, "welcome back").await;
    assert_eq!(b.dispatch("MESSAGE_CREATE").await["content"], "welcome back");

    // Taking the role away cuts bob off again (role change, not overwrite).
    let (st, _) = t.alice.delete(s, &format!("/guilds/{}/members/{}/roles/{}", t.gid, t.bob.id, t.insiders)).await;
    assert_eq!(st, 204);
    assert_eq!(id(&b.dispatch("CHANNEL_DELETE").await["id"]), t.secret);
    t.alice.say(s, t.secret, "bye bob").await;
    b.expect_none("MESSAGE_CREATE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_hierarchy_refusals() {
    let t = setup().await;
    let (s, gid) = (&t.s, t.gid);
    let dave = s.user("dave").await;
    let (_, chans) = t.alice.get(s, &format!("/guilds/{gid}/channels")).await;
    let general = id(&chans[0]["id"]);
    dave.join(s, &t.alice.invite(s, general, json!({})).await).await;

    let role = |name: &str, perms: u64| {
        let (s, alice) = (s, t.alice.clone());
        let name = name.to_string();
        async move {
            let (st, r) =
                alice.post(s, &format!("/guilds/{gid}/roles"), json!({"name": name, "permissions": p(perms)})).await;
            assert_eq!(st, 201, "{r}");
            id(&r["id"])
        }
    };
    let helper = role("helper", 0).await;
    let moderator = role("mod", MANAGE_ROLES | KICK | MANAGE_NICKNAMES).await;
    // New roles start at the bottom; put mod above helper.
    let (st, roles) = t
        .alice
        .patch(
            s,
            &format!("/guilds/{gid}/roles"),
            json!([{"id": moderator.to_string(), "position": 3}, {"id": helper.to_string(), "position": 1}]),
        )
        .await;
    assert_eq!(st, 200, "{roles}");
    let pos = |rid: u64| {
        roles.as_array().unwrap().iter().find(|r| id(&r["id"]) == rid).unwrap()["position"].as_i64().unwrap()
    };
    assert!(pos(moderator) > pos(helper));
    for u in [&t.bob, &dave] {
        let (st, _) = t.alice.put(s, &format!("/guilds/{gid}/members/{}/roles/{moderator}", u.id), json!({})).await;
        assert_eq!(st, 204);
    }
    let bob = &t.bob;
    let expect = |(st, e): (u16, Value), status: u16, code: &str| {
        assert_eq!((st, e["code"].as_str()), (status, Some(code)), "{e}");
    };
    // Below bob: fine.
    let (st, _) = bob.put(s, &format!("/guilds/{gid}/members/{}/roles/{helper}", t.carol.id), json!({})).await;
    assert_eq!(st, 204);
    // At bob's own level or above: refused.
    expect(
        bob.put(s, &format!("/guilds/{gid}/members/{}/roles/{moderator}", t.carol.id), json!({})).await,
        403,
        "hierarchy",
    );
    expect(bob.patch(s, &format!("/guilds/{gid}/roles/{moderator}"), json!({"name": "boss"})).await, 403, "hierarchy");
    expect(bob.delete(s, &format!("/guilds/{gid}/roles/{moderator}")).await, 403, "hierarchy");
    expect(
        bob.patch(s, &format!("/guilds/{gid}/roles"), json!([{"id": helper.to_string(), "position": 5}])).await,
        403,
        "hierarchy",
    );
    // Nobody grants what they do not have.
    expect(
        bob.post(s, &format!("/guilds/{gid}/roles"), json!({"name": "root", "permissions": p(ADMIN)})).await,
        403,
        "missing_permissions",
    );
    let (st, _) = bob.post(s, &format!("/guilds/{gid}/roles"), json!({"name": "kicker", "permissions": p(KICK)})).await;
    assert_eq!(st, 201);
    // Members at or above bob, and the owner, cannot be kicked or renamed by him.
    expect(bob.delete(s, &format!("/guilds/{gid}/members/{}", t.alice.id)).await, 403, "hierarchy");
    expect(bob.delete(s, &format!("/guilds/{gid}/members/{}", dave.id)).await, 403, "hierarchy");
    expect(
        bob.patch(s, &format!("/guilds/{gid}/members/{}", dave.id), json!({"nick": "davey"})).await,
        403,
        "hierarchy",
    );
    // A plain member has no role management at all.
    expect(t.carol.post(s, &format!("/guilds/{gid}/roles"), json!({"name": "x"})).await, 403, "missing_permissions");
    // Carol (helper, below mod) can be kicked by bob; her live session learns it.
    let (mut c, _) = Gw::identify(s, &t.carol, Enc::Json).await;
    let (st, _) = bob.delete(s, &format!("/guilds/{gid}/members/{}", t.carol.id)).await;
    assert_eq!(st, 204);
    assert_eq!(id(&c.dispatch("GUILD_DELETE").await["id"]), gid);
    let (st, _) = t.carol.get(s, &format!("/guilds/{gid}")).await;
    assert_eq!(st, 404);
    // The owner is above everyone.
    let (st, _) = t.alice.patch(s, &format!("/guilds/{gid}/roles/{moderator}"), json!({"name": "moderator"})).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explainer_says_which_role_or_overwrite_decided_each_bit() {
    let t = setup().await;
    let s = &t.s;
    let bit = |e: &Value, name: &str| e["bits"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap().clone();

    let (st, e) = t.carol.get(s, &format!("/channels/{}/permissions/{}", t.announcements, t.carol.id)).await;
    assert_eq!(st, 200, "{e}");
    let view = bit(&e, "view_channel");
    assert_eq!(view["allowed"], true);
    assert_eq!(view["decided_by"]["kind"], "role");
    assert_eq!(id(&view["decided_by"]["role_id"]), t.gid, "@everyone granted it");
    let send = bit(&e, "send_messages");
    assert_eq!(send["allowed"], false);
    assert_eq!(send["decided_by"], json!({"kind": "everyone_overwrite", "allow": false}));
    assert_eq!(id(&e["permissions"]) & SEND, 0);

    let (st, e) = t.alice.get(s, &format!("/channels/{}/permissions/{}", t.secret, t.bob.id)).await;
    assert_eq!(st, 200);
    let view = bit(&e, "view_channel");
    assert_eq!(view["allowed"], true);
    assert_eq!(view["decided_by"]["kind"], "role_overwrite");
    assert_eq!(id(&view["decided_by"]["role_id"]), t.insiders);

    let (_, e) = t.alice.get(s, &format!("/guilds/{}/permissions/{}", t.gid, t.alice.id)).await;
    assert_eq!(bit(&e, "administrator")["decided_by"]["kind"], "owner");

    // Explaining someone else needs manage_roles; carol cannot see #secret at all.
    let (st, _) = t.carol.get(s, &format!("/guilds/{}/permissions/{}", t.gid, t.bob.id)).await;
    assert_eq!(st, 403);
    let (st, _) = t.carol.get(s, &format!("/channels/{}/permissions/{}", t.secret, t.carol.id)).await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrites_of_deleted_roles_and_departed_members_go_with_them() {
    let t = setup().await;
    let (s, gid) = (&t.s, t.gid);
    // A member overwrite for carol on #secret, then carol leaves: it is gone.
    let (st, _) = t
        .alice
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.secret, t.carol.id),
            json!({"kind": "member", "allow": p(VIEW)}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = t.carol.delete(s, &format!("/users/@me/guilds/{gid}")).await;
    assert_eq!(st, 204);
    // Deleting the insiders role removes its overwrite too.
    let (mut b, _) = Gw::identify(s, &t.bob, Enc::Json).await;
    let (st, _) = t.alice.delete(s, &format!("/guilds/{gid}/roles/{}", t.insiders)).await;
    assert_eq!(st, 204);
    let (_, c) = t.alice.get(s, &format!("/channels/{}", t.secret)).await;
    let targets: Vec<u64> = c["overwrites"].as_array().unwrap().iter().map(|o| id(&o["id"])).collect();
    assert_eq!(targets, vec![gid], "only the @everyone overwrite is left");
    // Bob lost the channel with the role.
    assert_eq!(id(&b.dispatch("CHANNEL_DELETE").await["id"]), t.secret);
    // Editing the channel's overwrites works again (nothing stale blocks it).
    let (st, e) = t
        .alice
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.secret, t.bob.id),
            json!({"kind": "member", "allow": p(VIEW)}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(id(&b.dispatch("CHANNEL_CREATE").await["id"]), t.secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_edits_overwrites_within_their_own_permissions() {
    let t = setup().await;
    let (s, gid) = (&t.s, t.gid);
    let (_, r) = t
        .alice
        .post(s, &format!("/guilds/{gid}/roles"), json!({"name": "mod", "permissions": p(MANAGE_ROLES | VIEW | SEND)}))
        .await;
    let moderator = id(&r["id"]);
    t.alice.put(s, &format!("/guilds/{gid}/members/{}/roles/{moderator}", t.bob.id), json!({})).await;
    // The owner set a bit on #announcements that bob does not hold (kick via overwrite is masked,
    // so use mention_everyone, which bob lacks).
    let mention = 1u64 << 17;
    let (st, _) = t
        .alice
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.announcements, t.carol.id),
            json!({"kind": "member", "deny": p(mention)}),
        )
        .await;
    assert_eq!(st, 200);
    // Bob may still change another target's overwrite with bits he has...
    let (st, e) = t
        .bob
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.announcements, t.insiders),
            json!({"kind": "role", "allow": p(SEND)}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    // ...but not grant or deny a bit he lacks.
    let (st, e) = t
        .bob
        .put(
            s,
            &format!("/channels/{}/permissions/{}", t.announcements, t.insiders),
            json!({"kind": "role", "allow": p(SEND | mention)}),
        )
        .await;
    assert_eq!((st, e["code"].as_str()), (403, Some("missing_permissions")));
    // Creating a channel with overwrites is managing roles: a channel manager without it is refused.
    let (_, r) =
        t.alice.post(s, &format!("/guilds/{gid}/roles"), json!({"name": "builder", "permissions": p(1 << 4)})).await;
    t.alice.put(s, &format!("/guilds/{gid}/members/{}/roles/{}", t.carol.id, id(&r["id"])), json!({})).await;
    let (st, _) = t.carol.post(s, &format!("/guilds/{gid}/channels"), json!({"name": "plain"})).await;
    assert_eq!(st, 201);
    let (st, e) = t
        .carol
        .post(
            s,
            &format!("/guilds/{gid}/channels"),
            json!({"name": "locked", "overwrites": [{"id": gid.to_string(), "kind": "role", "deny": p(VIEW)}]}),
        )
        .await;
    assert_eq!((st, e["code"].as_str()), (403, Some("missing_permissions")));
}
