//! Strict decoding: what the docs do not allow is refused, the same way in
//! JSON and MessagePack, over REST and the gateway; an error names the field
//! at fault and carries the command's nonce.

use serde_json::{json, Value};

use crate::common::*;

/// A REST request with a JSON or MessagePack body made from `body`.
async fn send_body(s: &Server, method: &str, path: &str, token: &str, msgpack: bool, body: &Value) -> (u16, Value) {
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let (ct, bytes) = if msgpack {
        ("application/msgpack", rmp_serde::to_vec_named(body).unwrap())
    } else {
        ("application/json", body.to_string().into_bytes())
    };
    let resp = client
        .request(m, s.api(path))
        .bearer_auth(token)
        .header("Content-Type", ct)
        .body(bytes)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn invalid_body(st: u16, v: &Value, what: &str) -> String {
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_body")), "{what}: {v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_bodies_are_objects_with_named_fields_in_both_encodings() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (gid, _) = alice.guild(&s, "home").await;
    for msgpack in [false, true] {
        let what = if msgpack { "MessagePack" } else { "JSON" };
        // A struct written as a positional array, as a struct-as-array serializer would.
        let (st, v) = send_body(&s, "POST", "/guilds", &alice.token, msgpack, &json!(["array guild"])).await;
        let m = invalid_body(st, &v, what);
        assert!(m.contains("expected an object with named fields"), "{what}: {m}");
        // An enum given by its variant index (text, voice, category → 1 is voice).
        let body = json!({"name": "by-index", "kind": 1});
        let (st, v) = send_body(&s, "POST", &format!("/guilds/{gid}/channels"), &alice.token, msgpack, &body).await;
        let m = invalid_body(st, &v, what);
        assert!(m.starts_with("invalid body: kind: "), "{what}: {m}");
        // A wrong type names its field.
        let (st, v) = send_body(&s, "POST", "/guilds", &alice.token, msgpack, &json!({"name": 123})).await;
        let m = invalid_body(st, &v, what);
        assert!(m.starts_with("invalid body: name: invalid type: integer `123`, expected a string"), "{what}: {m}");
        // The same body as an object works.
        let body = json!({"name": "voice", "kind": "voice"});
        let (st, c) = send_body(&s, "POST", &format!("/guilds/{gid}/channels"), &alice.token, msgpack, &body).await;
        assert_eq!(st, 201, "{what}: {c}");
        assert_eq!(c["kind"], "voice");
    }
    // Nothing was created by the refused requests.
    let (_, guilds) = alice.get(&s, "/users/@me/guilds").await;
    let names: Vec<&str> = guilds.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["home"]);
    let (_, chans) = alice.get(&s, &format!("/guilds/{gid}/channels")).await;
    assert!(!chans.as_array().unwrap().iter().any(|c| c["name"] == "by-index"), "{chans}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_payloads_are_objects_with_named_fields_and_errors_name_the_field() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, general) = alice.guild(&s, "home").await;
    for enc in [Enc::Json, Enc::MsgPack] {
        let (mut gw, _) = Gw::identify(&s, &alice, enc).await;
        let cid = gw.idv(general);
        // SEND_MESSAGE's d as a positional array: refused, nothing stored.
        gw.send(40, json!([cid, "positional", "n-array"])).await;
        let err = gw.op(43).await;
        assert_eq!((err["op"].as_u64(), err["code"].as_str()), (Some(40), Some("invalid_body")), "{enc:?}: {err}");
        assert!(err["message"].as_str().unwrap().contains("d: invalid type: sequence"), "{enc:?}: {err}");
        // A status by variant index, and as a {variant: null} map.
        for status in [json!(1), json!({"idle": null})] {
            gw.send(3, json!({ "status": status })).await;
            let err = gw.op(43).await;
            assert_eq!(err["code"], "invalid_body", "{enc:?} {status}: {err}");
            assert!(err["message"].as_str().unwrap().contains("d.status: "), "{enc:?}: {err}");
        }
        // A wrong type names the field, and the nonce still comes back.
        gw.send(40, json!({"channel_id": cid, "content": 123, "nonce": "n-type"})).await;
        let err = gw.op(43).await;
        assert_eq!(err["nonce"], "n-type", "{enc:?}: {err}");
        let m = err["message"].as_str().unwrap();
        assert!(m.contains("d.content: invalid type: integer `123`, expected a string"), "{enc:?}: {m}");
        // An id that is not strictly decimal: refused, naming the field, nonce echoed.
        for bad in ["+1", "0123", " 1"] {
            gw.send(40, json!({"channel_id": bad, "content": "x", "nonce": "n-id"})).await;
            let err = gw.op(43).await;
            assert_eq!((err["code"].as_str(), err["nonce"].as_str()), (Some("invalid_body"), Some("n-id")), "{err}");
            assert!(err["message"].as_str().unwrap().contains("d.channel_id: "), "{bad}: {err}");
        }
        // The same command as an object is stored.
        let acked = gw.say(general, &format!("object {enc:?}"), "n-ok").await;
        assert_eq!(acked["content"], format!("object {enc:?}"));
    }
    let (_, history) = alice.get(&s, &format!("/channels/{general}/messages")).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["object Json", "object MsgPack"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_paths_and_queries_are_strictly_decimal() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, general) = alice.guild(&s, "home").await;
    let m = alice.say(&s, general, "hello").await;
    let (st, _) = alice.get(&s, &format!("/channels/{general}")).await;
    assert_eq!(st, 200);
    for path in [format!("/channels/+{general}"), format!("/channels/0{general}"), format!("/channels/{general}%20")] {
        let (st, v) = alice.get(&s, &path).await;
        assert_eq!((st, v["code"].as_str()), (404, Some("not_found")), "{path}: {v}");
    }
    let (st, page) = alice.get(&s, &format!("/channels/{general}/messages?after=0")).await;
    assert_eq!(st, 200, "0 is a decimal id: {page}");
    assert_eq!(id(&page[0]["id"]), id(&m["id"]));
    for q in ["after=%2B1", "after=01", "before=-1", "around=1e3"] {
        let (st, v) = alice.get(&s, &format!("/channels/{general}/messages?{q}")).await;
        assert_eq!((st, v["code"].as_str()), (400, Some("invalid_query")), "{q}: {v}");
    }
}
