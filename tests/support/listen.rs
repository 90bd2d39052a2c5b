//! Shared by the test binaries that start `hearth serve` themselves (each uses
//! what it needs).
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// What a started server printed before `listening on`.
#[derive(Debug, Clone, Default)]
pub struct Listening {
    /// The HTTP address.
    pub addr: String,
    /// The voice UDP address it bound (`voice listening on ADDR ...`), if voice is on.
    pub voice: Option<String>,
}

/// Read the server's stdout until its `listening on ADDR` line and return
/// ADDR; the rest of stdout is drained in the background.
pub async fn wait_listening(child: &mut Child, wait: Duration) -> String {
    wait_listening_all(child, wait).await.addr
}

/// Like [`wait_listening`], also returning the voice address.
pub async fn wait_listening_all(child: &mut Child, wait: Duration) -> Listening {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let found = tokio::time::timeout(wait, async {
        let mut l = Listening::default();
        while let Ok(Some(line)) = out.next_line().await {
            if let Some(rest) = line.strip_prefix("voice listening on ") {
                l.voice = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(a) = line.strip_prefix("listening on ") {
                l.addr = a.trim().to_string();
                return l;
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server did not start in time");
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    found
}
