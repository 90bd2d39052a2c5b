//! Voice: WebRTC peers (str0m clients on their own UDP sockets) join through
//! the real gateway and send synthetic Opus packets through the real SFU.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::*;
use crate::voice_peer::VoiceUser;

/// Time for ICE + DTLS + first packets on a loaded CI machine.
const CONNECT: Duration = Duration::from_secs(20);

/// A guild owned by the first user with the others as members; returns (guild, voice channel, text channel).
async fn community(s: &Server, users: &[&User]) -> (u64, u64, u64) {
    let owner = users[0];
    let (gid, text) = owner.guild(s, "voice test").await;
    let code = owner.invite(s, text, json!({})).await;
    for u in &users[1..] {
        u.join(s, &code).await;
    }
    let (_, chans) = owner.get(s, &format!("/guilds/{gid}/channels")).await;
    let voice = chans.as_array().unwrap().iter().find(|c| c["kind"] == "voice").expect("default voice channel");
    (gid, id(&voice["id"]), text)
}

async fn voice_user(s: &Server, u: &User) -> VoiceUser {
    let (gw, _) = Gw::identify(s, u, Enc::Json).await;
    VoiceUser::new(gw, u.id).await
}

fn state_of(v: &VoiceUser, user: u64) -> Option<Value> {
    v.events
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(t, d)| t == "VOICE_STATE_UPDATE" && id(&d["user_id"]) == user)
        .map(|(_, d)| d.clone())
}

/// Wait until each user's ICE and DTLS are up, then start them talking.
async fn connect_and_talk(users: &[&VoiceUser]) {
    for u in users {
        eventually(CONNECT, "ICE+DTLS", || u.peer.heard.lock().unwrap().connected).await;
        u.peer.talk(true);
    }
}

/// Wait until `listener` has heard at least `n` more packets from `from` than `base`.
async fn hears(listener: &VoiceUser, from: u64, base: u64, n: u64) {
    let what = format!("{} hearing {from}", listener.user_id);
    eventually(CONNECT, &what, || listener.peer.heard_from(from) >= base + n).await;
}

/// Packets a speaker sends (at 50 a second) while a listener must hear none of them.
const SILENCE_PACKETS: u64 = 10;

/// Whether `listener` hears nothing more from `speaker` while the speaker
/// sends [`SILENCE_PACKETS`] packets.
async fn silent(listener: &VoiceUser, speaker: &VoiceUser) -> bool {
    let from = speaker.user_id;
    // Packets forwarded before the change took effect may still be arriving:
    // settled once 100 ms (five packet intervals) bring none.
    let settle_by = tokio::time::Instant::now() + WAIT;
    loop {
        let before = listener.peer.heard_from(from);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if listener.peer.heard_from(from) == before || tokio::time::Instant::now() > settle_by {
            break;
        }
    }
    let before = listener.peer.heard_from(from);
    // The speaker's own count says when enough was sent; one whose connection
    // is already gone sends nothing, and is given a second like any other.
    let sent = || speaker.peer.heard.lock().unwrap().sent;
    let base = sent();
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        eventually(WAIT, "packets sent", || sent() >= base + SILENCE_PACKETS),
    )
    .await;
    listener.peer.heard_from(from) == before
}

#[tokio::test]
async fn three_people_hear_each_other_and_never_themselves() {
    let s = Server::start().await;
    let (a, b, c) = (s.user("ann").await, s.user("ben").await, s.user("cat").await);
    let (gid, voice, _) = community(&s, &[&a, &b, &c]).await;
    let g = json!(gid.to_string());
    let users = [voice_user(&s, &a).await, voice_user(&s, &b).await, voice_user(&s, &c).await];
    for u in &users {
        u.voice_state(&g, json!(voice.to_string()), false, false);
    }
    connect_and_talk(&users.iter().collect::<Vec<_>>()).await;
    for l in &users {
        for f in &users {
            if l.user_id != f.user_id {
                hears(l, f.user_id, 0, 25).await;
            }
        }
    }
    for u in &users {
        let h = u.peer.heard.lock().unwrap();
        assert_eq!(h.from.get(&u.user_id), None, "{} heard itself", u.user_id);
        assert_eq!(h.mislabeled, 0, "audio arrived on another participant's line");
        assert_eq!(u.errors.lock().unwrap().len(), 0, "{:?}", u.errors.lock().unwrap());
    }
    // Speaking indicators: everyone saw the others start speaking, and stop when they stop.
    for u in &users {
        for other in [a.id, b.id, c.id].into_iter().filter(|o| *o != u.user_id) {
            u.until(WAIT, "speaking", |ev| {
                ev.iter().any(|(t, d)| t == "VOICE_SPEAKING" && id(&d["user_id"]) == other && d["speaking"] == true)
            })
            .await;
        }
    }
    users[2].peer.talk(false);
    users[0]
        .until(WAIT, "stopped speaking", |ev| {
            ev.iter()
                .rev()
                .find(|(t, d)| t == "VOICE_SPEAKING" && id(&d["user_id"]) == c.id)
                .is_some_and(|(_, d)| d["speaking"] == false)
        })
        .await;
    // Everyone in the guild saw everyone join.
    for u in &users {
        for other in [a.id, b.id, c.id] {
            let st = state_of(u, other).expect("voice state seen");
            assert_eq!(id(&st["channel_id"]), voice);
        }
    }
    // A new session gets the voice states in READY.
    let (_gw, ready) = Gw::identify(&s, &a, Enc::MsgPack).await;
    let guild = ready["guilds"].as_array().unwrap().iter().find(|g| id(&g["guild"]["id"]) == gid).unwrap().clone();
    let mut in_voice: Vec<u64> = guild["voice_states"].as_array().unwrap().iter().map(|v| id(&v["user_id"])).collect();
    in_voice.sort();
    let mut want = vec![a.id, b.id, c.id];
    want.sort();
    assert_eq!(in_voice, want);
    assert_eq!(s.metric("hearth_voice_participants").await, 3.0);
    assert_eq!(s.metric("hearth_voice_rooms").await, 1.0);
    assert!(s.metric("hearth_voice_packets_forwarded_total").await >= 150.0);
    assert!(!s.logged_panic());
}

#[tokio::test]
async fn mute_and_deafen_stop_forwarding() {
    let s = Server::start().await;
    let (a, b) = (s.user("amy").await, s.user("bob").await);
    let (gid, voice, _) = community(&s, &[&a, &b]).await;
    let (g, v) = (json!(gid.to_string()), json!(voice.to_string()));
    let (ua, ub) = (voice_user(&s, &a).await, voice_user(&s, &b).await);
    ua.voice_state(&g, v.clone(), false, false);
    ub.voice_state(&g, v.clone(), false, false);
    connect_and_talk(&[&ua, &ub]).await;
    hears(&ua, b.id, 0, 10).await;
    hears(&ub, a.id, 0, 10).await;

    // Self mute: Bob's audio stops reaching Amy; Bob still hears Amy.
    ub.voice_state(&g, v.clone(), true, false);
    ua.until(WAIT, "bob muted", |_| state_of(&ua, b.id).is_some_and(|s| s["self_mute"] == true)).await;
    assert!(silent(&ua, &ub).await, "a self-muted participant was forwarded");
    hears(&ub, a.id, ub.peer.heard_from(a.id), 10).await;

    // Self deafen: nothing reaches Amy, while her audio still reaches Bob.
    ub.voice_state(&g, v.clone(), false, false);
    hears(&ua, b.id, ua.peer.heard_from(b.id), 10).await;
    ua.voice_state(&g, v.clone(), false, true);
    ub.until(WAIT, "amy deafened", |_| state_of(&ub, a.id).is_some_and(|s| s["self_deaf"] == true)).await;
    assert!(silent(&ua, &ub).await, "a deafened participant still received audio");
    hears(&ub, a.id, ub.peer.heard_from(a.id), 10).await;
    ua.voice_state(&g, v.clone(), false, false);
    hears(&ua, b.id, ua.peer.heard_from(b.id), 10).await;

    // Server mute by the owner (mute_members): Bob goes silent; it shows in his state.
    let (st, m) = a.patch(&s, &format!("/guilds/{gid}/members/{}", b.id), json!({"mute": true})).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["mute"], true);
    ua.until(WAIT, "bob server-muted", |_| state_of(&ua, b.id).is_some_and(|s| s["mute"] == true)).await;
    assert!(silent(&ua, &ub).await, "a server-muted participant was forwarded");
    // Bob cannot unmute himself by toggling self mute.
    ub.voice_state(&g, v.clone(), false, false);
    assert!(silent(&ua, &ub).await, "self-unmute lifted a server mute");
    // Bob may not server-mute Amy (no mute_members).
    let (st, e) = b.patch(&s, &format!("/guilds/{gid}/members/{}", a.id), json!({"mute": true})).await;
    assert_eq!((st, e["code"].as_str()), (403, Some("missing_permissions")), "{e}");
    // Server deafen of Amy: she hears nothing (Bob is unmuted again first).
    a.patch(&s, &format!("/guilds/{gid}/members/{}", b.id), json!({"mute": false})).await;
    hears(&ua, b.id, ua.peer.heard_from(b.id), 10).await;
    a.patch(&s, &format!("/guilds/{gid}/members/{}", a.id), json!({"deaf": true})).await;
    assert!(silent(&ua, &ub).await, "a server-deafened participant still received audio");
    hears(&ub, a.id, ub.peer.heard_from(a.id), 10).await;
    assert!(!s.logged_panic());
}

#[tokio::test]
async fn leaving_closing_the_gateway_and_vanishing_clean_up() {
    let s = Server::start().await;
    let (a, b, c, d) = (s.user("ada").await, s.user("bea").await, s.user("cy").await, s.user("dot").await);
    let (gid, voice, _) = community(&s, &[&a, &b, &c, &d]).await;
    let (g, v) = (json!(gid.to_string()), json!(voice.to_string()));
    let ua = voice_user(&s, &a).await;
    let ub = voice_user(&s, &b).await;
    let mut uc = voice_user(&s, &c).await;
    let mut ud = voice_user(&s, &d).await;
    for u in [&ua, &ub, &uc, &ud] {
        u.voice_state(&g, v.clone(), false, false);
    }
    connect_and_talk(&[&ua, &ub, &uc, &ud]).await;
    hears(&ua, d.id, 0, 5).await;
    assert_eq!(s.metric("hearth_voice_participants").await, 4.0);
    let left = |u: &VoiceUser, who: u64| state_of(u, who).is_some_and(|s| s["channel_id"].is_null());

    // Leave: everyone sees it, and Amy's next offer no longer carries Bea.
    ub.voice_state(&g, Value::Null, false, false);
    ua.until(WAIT, "bea left", |_| left(&ua, b.id)).await;
    ua.until(WAIT, "an offer without bea", |ev| {
        ev.iter()
            .rev()
            .find(|(t, _)| t == "VOICE_OFFER")
            .is_some_and(|(_, o)| o["streams"].as_array().unwrap().iter().all(|st| id(&st["user_id"]) != b.id))
    })
    .await;
    assert!(silent(&ua, &ub).await);

    // Closing the gateway ends the session and its voice connection.
    uc.close_gateway();
    ua.until(WAIT, "cy gone with the session", |_| left(&ua, c.id)).await;

    // A peer whose network vanishes (the gateway stays) is dropped after VOICE_PEER_TIMEOUT.
    ud.peer.vanish();
    ua.until(Duration::from_secs(20), "dot timed out", |_| left(&ua, d.id)).await;
    let parts = s.metric("hearth_voice_participants").await;
    assert_eq!(parts, 1.0, "participants after cleanup");

    // Dot comes back on a new network path and is heard again.
    ud.new_peer().await;
    ud.voice_state(&g, v.clone(), false, false);
    eventually(CONNECT, "dot reconnected", || ud.peer.heard.lock().unwrap().connected).await;
    ud.peer.talk(true);
    hears(&ua, d.id, ua.peer.heard_from(d.id), 10).await;
    hears(&ud, a.id, 0, 10).await;
    drop(uc);
    assert!(!s.logged_panic());
}

#[tokio::test]
async fn garbage_on_the_voice_port_changes_nothing() {
    let s = Server::start().await;
    let (a, b) = (s.user("gus").await, s.user("hal").await);
    let (gid, voice, _) = community(&s, &[&a, &b]).await;
    let (g, v) = (json!(gid.to_string()), json!(voice.to_string()));
    let (ua, ub) = (voice_user(&s, &a).await, voice_user(&s, &b).await);
    ua.voice_state(&g, v.clone(), false, false);
    ub.voice_state(&g, v.clone(), false, false);
    connect_and_talk(&[&ua, &ub]).await;
    hears(&ua, b.id, 0, 10).await;

    // 20 000 datagrams of every kind a WebRTC port demultiplexes, from an unknown sender.
    let port: std::net::SocketAddr = s.voice.as_deref().expect("voice on").parse().unwrap();
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (before_a, before_b) = (ua.peer.heard_from(b.id), ub.peer.heard_from(a.id));
    let mut rng = SmallRng::seed_from_u64(0x9E37_79B9);
    for i in 0..20_000u32 {
        let mut d = vec![0u8; rng.gen_range(1..=1500)];
        rng.fill(&mut d[..]);
        match i % 5 {
            0 => d[0] = 0,                                                           // STUN-looking
            1 => d[0] = 22,                                                          // DTLS-looking
            2 => d[0] = 0x80,                                                        // RTP/RTCP-looking
            3 if d.len() >= 8 => d[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]), // STUN cookie
            _ => {}
        }
        let _ = junk.send_to(&d, port).await;
        if i % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Oversized datagrams too.
    for _ in 0..50 {
        let _ = junk.send_to(&[0x80; 4000], port).await;
    }
    hears(&ua, b.id, before_a, 25).await;
    hears(&ub, a.id, before_b, 25).await;
    assert!(s.metric_sum("hearth_voice_datagrams_dropped_total").await >= 1000.0);
    assert_eq!(s.metric("hearth_voice_participants").await, 2.0);
    assert!(!s.logged_panic());
}

#[tokio::test]
async fn permissions_and_limits() {
    let s = Server::start_with(&["--voice-max-room-participants", "2"]).await;
    let (a, b, c) = (s.user("ivy").await, s.user("jo").await, s.user("kai").await);
    let (gid, voice, text) = community(&s, &[&a, &b, &c]).await;
    let (g, v) = (json!(gid.to_string()), json!(voice.to_string()));
    let (ua, ub, uc) = (voice_user(&s, &a).await, voice_user(&s, &b).await, voice_user(&s, &c).await);
    let last_error = |u: &VoiceUser| u.errors.lock().unwrap().last().cloned();

    // A text channel is not a voice channel.
    ua.voice_state(&g, json!(text.to_string()), false, false);
    eventually(WAIT, "not_voice_channel", || last_error(&ua).is_some_and(|e| e["code"] == "not_voice_channel")).await;

    // @everyone loses speak: Jo joins suppressed and is not forwarded.
    let (_, roles) = a.get(&s, &format!("/guilds/{gid}/roles")).await;
    let everyone = roles.as_array().unwrap().iter().find(|r| id(&r["id"]) == gid).unwrap().clone();
    let bits: u64 = everyone["permissions"].as_str().unwrap().parse().unwrap();
    const CONNECT_BIT: u64 = 1 << 20;
    const SPEAK: u64 = 1 << 21;
    let no_speak = (bits & !SPEAK).to_string();
    let (st, r) = a.patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": no_speak})).await;
    assert_eq!(st, 200, "{r}");
    ua.voice_state(&g, v.clone(), false, false);
    ub.voice_state(&g, v.clone(), false, false);
    ub.until(WAIT, "jo suppressed", |_| state_of(&ub, b.id).is_some_and(|s| s["suppress"] == true)).await;
    connect_and_talk(&[&ua, &ub]).await;
    hears(&ub, a.id, 0, 10).await; // the owner has every permission
    assert!(silent(&ua, &ub).await, "a participant without speak was forwarded");

    // The room holds two: Kai is refused.
    uc.voice_state(&g, v.clone(), false, false);
    eventually(WAIT, "voice_channel_full", || last_error(&uc).is_some_and(|e| e["code"] == "voice_channel_full")).await;

    // Without connect, joining is refused; losing connect while in voice disconnects.
    let no_connect = (bits & !SPEAK & !CONNECT_BIT).to_string();
    let (st, r) = a.patch(&s, &format!("/guilds/{gid}/roles/{gid}"), json!({"permissions": no_connect})).await;
    assert_eq!(st, 200, "{r}");
    ua.until(WAIT, "jo dropped without connect", |_| state_of(&ua, b.id).is_some_and(|s| s["channel_id"].is_null()))
        .await;
    uc.voice_state(&g, v.clone(), false, false);
    eventually(WAIT, "missing_permissions", || last_error(&uc).is_some_and(|e| e["code"] == "missing_permissions"))
        .await;
    assert!(!s.logged_panic());
}

#[tokio::test]
async fn voice_can_be_turned_off() {
    let s = Server::start_with(&["--no-voice"]).await;
    assert!(s.voice.is_none());
    let a = s.user("lu").await;
    let (gid, voice, _) = community(&s, &[&a]).await;
    let ua = voice_user(&s, &a).await;
    ua.voice_state(&json!(gid.to_string()), json!(voice.to_string()), false, false);
    eventually(WAIT, "voice_unavailable", || {
        ua.errors.lock().unwrap().last().is_some_and(|e| e["code"] == "voice_unavailable" && e["op"] == 44)
    })
    .await;
}

#[tokio::test]
async fn switching_channels_and_guilds_moves_the_user() {
    let s = Server::start().await;
    let (a, b, c) = (s.user("mo").await, s.user("ned").await, s.user("oz").await);
    let (gid, voice1, _) = community(&s, &[&a, &b, &c]).await;
    let (st, ch) = a.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "Raid", "kind": "voice"})).await;
    assert_eq!(st, 201, "{ch}");
    let voice2 = id(&ch["id"]);
    let g = json!(gid.to_string());
    let (ua, ub, uc) = (voice_user(&s, &a).await, voice_user(&s, &b).await, voice_user(&s, &c).await);
    ua.voice_state(&g, json!(voice1.to_string()), false, false);
    ub.voice_state(&g, json!(voice1.to_string()), false, false);
    connect_and_talk(&[&ua, &ub]).await;
    hears(&ua, b.id, 0, 10).await;

    // Ned moves to Raid: one state update naming the new channel (no "left" in between).
    ub.voice_state(&g, json!(voice2.to_string()), false, false);
    ua.until(WAIT, "ned in raid", |_| state_of(&ua, b.id).is_some_and(|st| id(&st["channel_id"]) == voice2)).await;
    let ned_states: Vec<Value> = ua
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, d)| t == "VOICE_STATE_UPDATE" && id(&d["user_id"]) == b.id)
        .map(|(_, d)| d["channel_id"].clone())
        .collect();
    assert!(ned_states.iter().all(|c| !c.is_null()), "a move announced a gap: {ned_states:?}");
    assert!(silent(&ua, &ub).await, "Mo still hears Ned from another channel");
    // Oz joins Raid: Ned (on his fresh connection) and Oz hear each other; Mo hears neither.
    uc.voice_state(&g, json!(voice2.to_string()), false, false);
    connect_and_talk(&[&uc]).await;
    hears(&ub, c.id, 0, 10).await;
    hears(&uc, b.id, 0, 10).await;
    assert_eq!(ua.peer.heard_from(c.id), 0);
    assert_eq!(s.metric("hearth_voice_rooms").await, 2.0);

    // Ned joins voice in another guild: he leaves Raid here.
    let (gid2, _) = b.guild(&s, "elsewhere").await;
    let (_, chans) = b.get(&s, &format!("/guilds/{gid2}/channels")).await;
    let other_voice = id(&chans.as_array().unwrap().iter().find(|c| c["kind"] == "voice").unwrap()["id"]);
    ub.voice_state(&json!(gid2.to_string()), json!(other_voice.to_string()), false, false);
    uc.until(WAIT, "ned left raid", |_| state_of(&uc, b.id).is_some_and(|st| st["channel_id"].is_null())).await;
    // (Voice states are per guild: the other guild's "left" may arrive after this one.)
    ub.until(WAIT, "ned in the other guild", |ev| {
        ev.iter().any(|(t, st)| {
            t == "VOICE_STATE_UPDATE"
                && id(&st["user_id"]) == b.id
                && id(&st["guild_id"]) == gid2
                && !st["channel_id"].is_null()
        })
    })
    .await;
    assert!(silent(&uc, &ub).await);
    assert!(!s.logged_panic());
}
