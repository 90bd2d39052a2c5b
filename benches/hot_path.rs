//! The message hot path, piece by piece: encoding a dispatch once for N
//! readers (vs once per reader), whole frames in both encodings, decoding
//! client frames, permission checks, snowflake ids, the store's group commit
//! (vs one commit per write) and reading a page of history.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hearth::model::ids::IdGenerator;
use hearth::model::permissions::{channel_permissions, GuildPerms, Overwrite, OverwriteKind, Permissions, RolePerms};
use hearth::model::{Author, Id, Message};
use hearth::protocol::codec::{decode_data, decode_op};
use hearth::protocol::commands::SendMessage;
use hearth::protocol::{Encoding, Op, SharedEvent};
use hearth::store::{HistoryQuery, Read, Store, Write};
use serde::Serialize;

fn message(i: u64) -> Message {
    let author =
        Author { id: Id(250_000_000_000_000_003), username: "alice".into(), display_name: Some("Alice".into()) };
    let content = "the quick brown fox jumps over the lazy dog — a typical short chat line".to_string();
    let mut m = Message::new(
        Id(250_000_000_000_000_000 + i),
        Id(250_000_000_000_000_001),
        Some(Id(250_000_000_000_000_002)),
        author,
        content,
    );
    m.nonce = Some("n-123".into());
    m.created_at = 1_795_431_945_943;
    m
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
    // A whole dispatch frame for one reader: the event encoded, then framed with its `s`.
    let mut g = c.benchmark_group("encode_frame");
    for (name, enc) in [("msgpack", Encoding::MsgPack), ("json", Encoding::Json)] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(SharedEvent::new("MESSAGE_CREATE", &m, enc == Encoding::Json).frame(42, enc)))
        });
    }
    g.finish();
}

#[derive(Serialize)]
struct ClientFrame<T> {
    op: u8,
    d: T,
}

#[derive(Serialize)]
struct Send<'a> {
    channel_id: Id,
    content: &'a str,
    nonce: &'a str,
}

/// `{op, d}` exactly as a client sends it.
fn client_bytes<T: Serialize>(frame: &ClientFrame<T>, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::MsgPack => rmp_serde::to_vec_named(frame).unwrap_or_default(),
        Encoding::Json => serde_json::to_vec(frame).unwrap_or_default(),
    }
}

/// What a session does with each client frame: read `op`, then `d` as that op's type.
fn decode(c: &mut Criterion) {
    let send = ClientFrame {
        op: Op::SendMessage as u8,
        d: Send { channel_id: Id(250_000_000_000_000_001), content: &"x".repeat(100), nonce: "n-123" },
    };
    let heartbeat = ClientFrame { op: Op::Heartbeat as u8, d: Some(1234u64) };
    let mut g = c.benchmark_group("decode_client_frame");
    for enc in [Encoding::MsgPack, Encoding::Json] {
        let name = if enc == Encoding::Json { "json" } else { "msgpack" };
        let (send, heartbeat) = (client_bytes(&send, enc), client_bytes(&heartbeat, enc));
        assert!(decode_data::<SendMessage>(&send, enc, decode_op(&send, enc).unwrap()).is_ok());
        assert_eq!(
            decode_data::<Option<u64>>(&heartbeat, enc, decode_op(&heartbeat, enc).unwrap()).unwrap(),
            Some(1234)
        );
        g.bench_function(BenchmarkId::new("send_message", name), |b| {
            b.iter(|| {
                let op = decode_op(black_box(&send), enc).unwrap_or(Op::Heartbeat);
                black_box(decode_data::<SendMessage>(&send, enc, op).ok())
            })
        });
        g.bench_function(BenchmarkId::new("heartbeat", name), |b| {
            b.iter(|| {
                let op = decode_op(black_box(&heartbeat), enc).unwrap_or(Op::SendMessage);
                black_box(decode_data::<Option<u64>>(&heartbeat, enc, op).ok())
            })
        });
    }
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

/// GET /channels/{id}/messages on a channel with 100 000 stored messages.
fn history(c: &mut Criterion) {
    const STORED: u64 = 100_000;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap_or_else(|e| panic!("{e}"));
    for batch in 0..STORED / 10_000 {
        rt.block_on(store.write(move |w| {
            for i in batch * 10_000..(batch + 1) * 10_000 {
                w.put_message(&message(i))?;
            }
            Ok::<_, hearth::errors::AppError>(())
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let channel = message(0).channel_id;
    let middle = message(STORED / 2).id;
    let mut g = c.benchmark_group("history_page_of_100k");
    for limit in [50usize, 100] {
        g.throughput(Throughput::Elements(limit as u64));
        g.bench_function(BenchmarkId::new("before_middle", limit), |b| {
            b.iter(|| {
                let r = store.read().unwrap_or_else(|e| panic!("{e}"));
                let page = r.history(channel, HistoryQuery::Before(middle), limit).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(page.len(), limit);
                black_box(page)
            })
        });
        g.bench_function(BenchmarkId::new("latest", limit), |b| {
            b.iter(|| {
                let r = store.read().unwrap_or_else(|e| panic!("{e}"));
                black_box(r.history(channel, HistoryQuery::Latest, limit).unwrap_or_else(|e| panic!("{e}")))
            })
        });
    }
    // What the route also does: the JSON response body.
    g.throughput(Throughput::Elements(50));
    g.bench_function("before_middle_50_as_json", |b| {
        b.iter(|| {
            let r = store.read().unwrap_or_else(|e| panic!("{e}"));
            let page = r.history(channel, HistoryQuery::Before(middle), 50).unwrap_or_else(|e| panic!("{e}"));
            black_box(serde_json::to_vec(&page).unwrap_or_default())
        })
    });
    g.finish();
}

criterion_group!(benches, encode, decode, permissions, ids, group_commit, history);
criterion_main!(benches);
