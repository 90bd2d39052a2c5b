//! Storage: group commit under concurrency, schema versioning.

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_share_commits() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, general) = alice.guild(&s, "g").await;
    let batches_before = s.metric("hearth_store_commit_batch_size_count").await;
    let requests_before = s.metric("hearth_store_commit_batch_size_sum").await;
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let (a, srv) = (alice.clone(), s.api(""));
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .post(format!("{srv}/channels/{general}/messages"))
                    .bearer_auth(&a.token)
                    .json(&json!({"content": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            })
        })
        .collect();
    for t in sends {
        t.await.unwrap();
    }
    let batches = s.metric("hearth_store_commit_batch_size_count").await - batches_before;
    let requests = s.metric("hearth_store_commit_batch_size_sum").await - requests_before;
    assert_eq!(requests, 200.0);
    assert!(batches < requests, "200 concurrent writes took {batches} commits: no grouping");
    eprintln!("200 concurrent sends committed in {batches} batches");
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages?limit=100")).await;
    assert_eq!(hist.as_array().unwrap().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
            let mut t = txn.open_table(def).unwrap();
            t.insert("schema_version", 99).unwrap();
        }
        txn.commit().unwrap();
    }
    let data = dir.path().to_str().expect("utf-8 temp path");
    let args = ["serve", "--bind", "127.0.0.1:0", "--voice-bind", "127.0.0.1:0", "--data", data];
    let out = crate::support::run_hearth(&args, &[]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 99"), "{err}");
    // Nothing was migrated: the file still says version 99.
    let db = redb::Database::open(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
    let t = txn.open_table(def).unwrap();
    let v = redb::ReadableTable::get(&t, "schema_version").unwrap().unwrap().value();
    assert_eq!(v, 99);
}
