//! Shared by the test binaries that start `hearth serve` themselves.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Read the server's stdout until its `listening on ADDR` line and return
/// ADDR; the rest of stdout is drained in the background.
pub async fn wait_listening(child: &mut Child, wait: Duration) -> String {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let addr = tokio::time::timeout(wait, async {
        while let Ok(Some(line)) = out.next_line().await {
            if let Some(a) = line.strip_prefix("listening on ") {
                return a.trim().to_string();
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server did not start in time");
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    addr
}
