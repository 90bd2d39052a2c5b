//! Who may open gateway connections: web origins and per-address limits.

use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::common::*;

async fn upgrade_with_origin(s: &Server, origin: Option<&str>) -> Result<(), u16> {
    let mut req = format!("ws://{}/gateway?encoding=json", s.addr).into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => Ok(()),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_own_origin_and_allowed_origins_may_connect_from_browsers() {
    let s = Server::start_with(&["--allowed-origins", "https://chat.example.org,https://other.example"]).await;
    let own = format!("http://{}", s.addr);
    assert_eq!(upgrade_with_origin(&s, None).await, Ok(()), "no Origin: bots and native clients");
    assert_eq!(upgrade_with_origin(&s, Some(&own)).await, Ok(()), "same origin");
    assert_eq!(upgrade_with_origin(&s, Some("https://chat.example.org")).await, Ok(()));
    assert_eq!(upgrade_with_origin(&s, Some("https://other.example")).await, Ok(()));
    assert_eq!(upgrade_with_origin(&s, Some("https://evil.example")).await, Err(403));
    assert_eq!(upgrade_with_origin(&s, Some("null")).await, Err(403));
    let plain = Server::start().await;
    assert_eq!(upgrade_with_origin(&plain, Some("https://chat.example.org")).await, Err(403), "not configured there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_limited() {
    let s = Server::start_with(&["--max-connections-per-ip", "3"]).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Gw::connect(&s, Enc::Json).await);
    }
    assert_eq!(upgrade_with_origin(&s, None).await, Err(429));
    // Closing one frees its place.
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match upgrade_with_origin(&s, None).await {
            Ok(()) => break,
            Err(429) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{other:?}"),
        }
    }
}
