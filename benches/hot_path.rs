//! The message hot path, piece by piece: encoding a dispatch once for N
//! readers (vs once per reader), permission checks, snowflake ids, and the
//! store's group commit (vs one commit per write).

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hearth::model::ids::IdGenerator;
use hearth::model::permissions::{channel_permissions, GuildPerms, Overwrite, OverwriteKind, Permissions, RolePerms};
use hearth::model::{Author, Id, Message};
use hearth::protocol::{Encoding, SharedEvent};
use hearth::store::{Store, Write};
use serde::Serialize;

fn message(i: u64) -> Message {
    Message {
        id: Id(250_000_000_000_000_000 + i),
        channel_id: Id(250_000_000_000_000_001),
        guild_id: Some(Id(250_000_000_000_000_002)),
        author: Author {
            id: Id(250_000_000_000_000_003),
            username: "alice".into(),
            display_name: Some("Alice".into()),
        },
        content: "the quick brown fox jumps over the lazy dog — a typical short chat line".into(),
        nonce: Some("n-123".into()),
        created_at: 1_795_431_945_943,
    }
}

#[derive(Serialize)]
struct NaiveFrame<'a> {
    op: u8,
    d: &'a Message,
    s: u64,
    t: &'a str,
}

fn encode(c: &mut Criterion) {
    let m = message(1);
    let mut g = c.benchmark_group("dispatch_to_readers");
    for readers in [1_000u64, 10_000] {
        g.throughput(Throughput::Elements(readers));
        g.bench_with_input(BenchmarkId::new("encode_once_prefix_per_reader", readers), &readers, |b, &n| {
            b.iter(|| {
                let ev = SharedEvent::new("MESSAGE_CREATE", &m, false);
                for seq in 0..n {
                    black_box(ev.frame(seq, Encoding::MsgPack));
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("serialize_per_reader", readers), &readers, |b, &n| {
            b.iter(|| {
                for seq in 0..n {
                    let f = NaiveFrame { op: 0, d: &m, s: seq, t: "MESSAGE_CREATE" };
                    black_box(rmp_serde::to_vec_named(&f).unwrap_or_default());
                }
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("encode_one_event");
    g.bench_function("msgpack", |b| b.iter(|| black_box(SharedEvent::new("MESSAGE_CREATE", &m, false))));
    g.bench_function("msgpack_and_json", |b| b.iter(|| black_box(SharedEvent::new("MESSAGE_CREATE", &m, true))));
    g.finish();
}

fn permissions(c: &mut Criterion) {
    let guild = Id(1);
    let roles: Vec<RolePerms> = (0..20)
        .map(|i| RolePerms {
            id: Id(if i == 0 { 1 } else { 100 + i }),
            position: i32::try_from(i).unwrap_or(0),
            permissions: Permissions::DEFAULT_EVERYONE,
        })
        .collect();
    let overwrites: Vec<Overwrite> = (0..20)
        .map(|i| Overwrite {
            id: Id(100 + i),
            kind: OverwriteKind::Role,
            allow: Permissions::SEND_MESSAGES,
            deny: Permissions::MENTION_EVERYONE,
        })
        .collect();
    let member_roles: Vec<Id> = (1..6).map(|i| Id(100 + i)).collect();
    let g = GuildPerms { guild_id: guild, owner_id: Id(2), roles: &roles };
    c.bench_function("channel_permissions_20_roles_20_overwrites", |b| {
        b.iter(|| black_box(channel_permissions(&g, Id(3), black_box(&member_roles), black_box(&overwrites))))
    });
}

fn ids(c: &mut Criterion) {
    let gen = IdGenerator::new(1);
    c.bench_function("snowflake_next", |b| b.iter(|| black_box(gen.next())));
}

fn group_commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("store_writes_1000_messages");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    let mut next = 0u64;
    g.bench_function("concurrent_group_commit", |b| {
        b.iter(|| {
            rt.block_on(async {
                let writes: Vec<_> = (0..1000)
                    .map(|_| {
                        next += 1;
                        let m = message(next);
                        store.write(move |w| w.put_message(&m).map_err(hearth::errors::AppError::from))
                    })
                    .collect();
                for w in futures_util::future::join_all(writes).await {
                    w.unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
    });
    g.bench_function("one_commit_per_write", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..1000 {
                    next += 1;
                    let m = message(next);
                    store
                        .write(move |w| w.put_message(&m).map_err(hearth::errors::AppError::from))
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, encode, permissions, ids, group_commit);
criterion_main!(benches);
