//! Two users chatting in a guild channel, one on MessagePack and one on JSON.

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_both_ways_in_both_encodings() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "Lodge").await;
    let code = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code).await;

    let (mut a, ready_a) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let (mut b, ready_b) = Gw::identify(&s, &bob, Enc::Json).await;
    // READY carries the user, the guild with its channels, roles and own member record.
    assert_eq!(id(&ready_a["user"]["id"]), alice.id);
    assert!(ready_a["user"]["id"].is_u64(), "MessagePack ids are integers");
    assert!(ready_b["user"]["id"].is_string(), "JSON ids are strings");
    let g = &ready_b["guilds"][0];
    assert_eq!(id(&g["guild"]["id"]), gid);
    assert_eq!(id(&g["member"]["user"]["id"]), bob.id);
    assert!(g["channels"].as_array().unwrap().iter().any(|c| id(&c["id"]) == general));
    assert!(g["roles"].as_array().unwrap().iter().any(|r| r["name"] == "@everyone"));
    assert!(ready_b["session_id"].is_string());

    // Alice (MessagePack) sends over the gateway: acked with the durable message, Bob gets it.
    let acked = a.say(general, "hello bob", "n-1").await;
    let got = b.dispatch("MESSAGE_CREATE").await;
    assert_eq!(got["content"], "hello bob");
    assert_eq!(id(&got["id"]), id(&acked["id"]));
    assert_eq!(id(&got["author"]["id"]), alice.id);
    assert_eq!(got["nonce"], "n-1");
    // Alice sees her own message as an event as well.
    let own = a.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&own["id"]), id(&acked["id"]));

    // Bob (JSON) answers over the gateway, and once more over REST.
    let acked_b = b.say(general, "hi alice", "n-2").await;
    assert!(acked_b["id"].is_string());
    let got = a.dispatch("MESSAGE_CREATE").await;
    assert_eq!(got["content"], "hi alice");
    let rest = bob.say(&s, general, "  via rest  ").await;
    assert_eq!(rest["content"], "via rest", "content is trimmed");
    let got = a.dispatch("MESSAGE_CREATE").await;
    assert_eq!(id(&got["id"]), id(&rest["id"]));

    // Sequence numbers increase by one per dispatch.
    let f1 = {
        alice.say(&s, general, "seq 1").await;
        loop {
            let f = b.next().await.unwrap();
            if f.t.as_deref() == Some("MESSAGE_CREATE") {
                break f;
            }
        }
    };
    alice.say(&s, general, "seq 2").await;
    let f2 = loop {
        let f = b.next().await.unwrap();
        if f.op == 0 {
            break f;
        }
    };
    assert_eq!(f2.s.unwrap(), f1.s.unwrap() + 1);

    // History has everything in order, ids increasing.
    let (st, hist) = bob.get(&s, &format!("/channels/{general}/messages?limit=100")).await;
    assert_eq!(st, 200);
    let contents: Vec<&str> = hist.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["hello bob", "hi alice", "via rest", "seq 1", "seq 2"]);
    let ids: Vec<u64> = hist.as_array().unwrap().iter().map(|m| id(&m["id"])).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Typing reaches the other reader.
    b.send(42, json!({"channel_id": general.to_string()})).await;
    let t = a.dispatch("TYPING_START").await;
    assert_eq!(id(&t["user_id"]), bob.id);
    assert_eq!(id(&t["channel_id"]), general);

    // Presence: Bob goes idle, Alice sees it; Bob disconnects, Alice sees offline.
    b.send(3, json!({"status": "idle"})).await;
    let p = a.dispatch_where("PRESENCE_UPDATE", |d| d["status"] == "idle").await;
    assert_eq!(id(&p["user_id"]), bob.id);
    b.ws.close(None).await.unwrap();
    let p = a.dispatch_where("PRESENCE_UPDATE", |d| d["status"] == "offline").await;
    assert_eq!(id(&p["user_id"]), bob.id);

    // Heartbeats are acknowledged.
    a.send(1, json!(null)).await;
    a.op(11).await;
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_before_after_around() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, ch) = alice.guild(&s, "g").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(id(&alice.say(&s, ch, &format!("m{i}")).await["id"]));
    }
    let page = |q: String| {
        let alice = alice.clone();
        let s = &s;
        async move {
            let (st, v) = alice.get(s, &format!("/channels/{ch}/messages?{q}")).await;
            assert_eq!(st, 200, "{v}");
            v.as_array().unwrap().iter().map(|m| id(&m["id"])).collect::<Vec<_>>()
        }
    };
    assert_eq!(page("limit=5".into()).await, ids[25..30]);
    assert_eq!(page(format!("before={}&limit=5", ids[10])).await, ids[5..10]);
    assert_eq!(page(format!("after={}&limit=5", ids[10])).await, ids[11..16]);
    assert_eq!(page(format!("around={}&limit=6", ids[10])).await, ids[7..13]);
    assert_eq!(page(format!("after={}", ids[29])).await, Vec::<u64>::new());
    let (st, m) = alice.get(&s, &format!("/channels/{ch}/messages/{}", ids[3])).await;
    assert_eq!((st, m["content"].as_str()), (200, Some("m3")));
    let (st, e) = alice.get(&s, &format!("/channels/{ch}/messages/12345")).await;
    assert_eq!((st, e["code"].as_str()), (404, Some("unknown_message")));
    for bad in ["limit=0", "limit=101", "before=1&after=2", "limit=abc"] {
        let (st, e) = alice.get(&s, &format!("/channels/{ch}/messages?{bad}")).await;
        assert_eq!((st, e["code"].as_str()), (400, Some("invalid_query")), "{bad}");
    }
}
