//! In-process fan-out of one event to 1 000 and 10 000 sessions through the
//! real actor path, without sockets.
//!
//! Each session is a real `Session` actor in a real `WebsocketContext`, fed an
//! IDENTIFY frame as if from a client; the context's output stream (the bytes
//! actix-http would write to the socket) is polled by a task that counts
//! frames. The sessions identify for real: tokens and guild membership come
//! from the store, the guild actor builds the channel's reader set. So a
//! measured delivery covers the hub hop, `SessionShared::deliver` (sequence
//! number, replay buffer, byte accounting, mailbox), the session's `Outbound`
//! handler and the WebSocket frame encoding — everything up to `write()`.
//!
//! As the server runs with `--workers 1`: one hub, sessions on the same thread,
//! guild and channel actors on one registry arbiter. Pin the bench to one core
//! (`taskset -c 1`) to compare with the loadtest's per-core numbers.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::error::PayloadError;
use actix_web_actors::ws::WebsocketContext;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{stream, StreamExt};
use hearth::actors::channel::Send as SendMessage;
use hearth::actors::hub::{Hub, Readers, SessionRef, WorkerHub};
use hearth::actors::online::Phase;
use hearth::actors::session::Session;
use hearth::auth::token_hash;
use hearth::config::Config;
use hearth::core::Core;
use hearth::errors::AppError;
use hearth::model::ids::IdGenerator;
use hearth::model::{Author, Channel, ChannelKind, Guild, Id, Message, Role, TokenRecord, User, UserRecord};
use hearth::protocol::events::event;
use hearth::protocol::Encoding;
use hearth::store::{MemberRecord, Store, Write};
use serde::Serialize;

/// Dispatches between simulated heartbeat acks: a reader of a channel with
/// 30 messages/s heartbeating every ~40 s acknowledges about this many frames.
const FRAMES_PER_ACK: u64 = 1000;

/// Counts frames the sessions hand to their (absent) sockets.
struct Sink {
    /// Frames still expected in the current round; goes negative outside rounds.
    pending: AtomicIsize,
    done: tokio::sync::Notify,
}

impl Sink {
    fn arrived(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    fn expect(&self, n: usize) {
        self.pending.store(isize::try_from(n).unwrap_or(isize::MAX), Ordering::Release);
    }
}

/// A guild whose members are all connected, with one text channel everyone reads.
struct Community {
    channel: Id,
    owner: User,
    sessions: Vec<SessionRef>,
    readers: Readers,
    dispatched: u64,
}

/// A masked binary WebSocket frame as a client sends it (mask key 0: XOR is a no-op).
fn client_frame(payload: &[u8]) -> Bytes {
    let mut f = vec![0x82u8];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    Bytes::from(f)
}

#[derive(Serialize)]
struct Frame<T> {
    op: u8,
    d: T,
}

#[derive(Serialize)]
struct Identify<'a> {
    token: &'a str,
}

fn message(n: u64) -> Message {
    let author = Author { id: Id(250_000_000_000_000_003), username: "alice".into(), display_name: None };
    // 100 bytes, the loadtest's fan-out payload.
    let mut m = Message::new(
        Id(250_000_000_000_000_000 + n),
        Id(250_000_000_000_000_001),
        Some(Id(250_000_000_000_000_002)),
        author,
        "x".repeat(100),
    );
    m.created_at = 1_795_431_945_943;
    m
}

/// Store a guild with `n` members and a text channel, then connect and identify one session per member.
async fn community(core: &Arc<Core>, hub: &WorkerHub, sink: &Arc<Sink>, n: usize) -> Community {
    let ids = core.store.ids();
    let (gid, cid) = (ids.next(), ids.next());
    let members: Vec<(User, Id, String)> = (0..n)
        .map(|_| {
            let id = ids.next();
            let user = User { id, username: format!("u{}", id.0), display_name: None, created_at: id.timestamp_ms() };
            (user, ids.next(), format!("token-{}", id.0))
        })
        .collect();
    let owner = members[0].0.clone();
    let guild = Guild { id: gid, name: format!("bench {n}"), owner_id: owner.id, created_at: 0 };
    let everyone = Role::everyone(gid);
    let channel = Channel::new(cid, ChannelKind::Text, Some(gid), Some("general".into()));
    let rows = members.clone();
    // Through serde, so fields added later with defaults need no change here.
    let member: MemberRecord =
        serde_json::from_value(serde_json::json!({ "roles": [], "nick": null, "joined_at": 0 })).unwrap();
    core.store
        .write(move |w| {
            w.put_guild(&guild)?;
            w.put_role(&everyone)?;
            w.put_channel(&channel)?;
            for (user, token_id, token) in &rows {
                let rec =
                    UserRecord { user: user.clone(), password_hash: String::new(), admin: false, disabled: false };
                w.put_user(&rec, &user.username)?;
                let tok = TokenRecord { id: *token_id, user_id: user.id, created_at: 0, client: None };
                w.put_token(&token_hash(token), &tok)?;
                w.put_member(gid, user.id, &member)?;
            }
            Ok::<_, AppError>(())
        })
        .await
        .unwrap();

    for (_, _, token) in &members {
        let session = Session::new(core.clone(), hub.clone(), Encoding::MsgPack, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let identify = rmp_serde::to_vec_named(&Frame { op: 2, d: Identify { token } }).unwrap();
        // IDENTIFY, then a client that never sends again (and never closes).
        let input =
            stream::once(async move { Ok::<_, PayloadError>(client_frame(&identify)) }).chain(stream::pending());
        let mut output = Box::pin(WebsocketContext::create(session, input));
        let sink = sink.clone();
        // What actix-http does with the response stream: poll it and write each chunk.
        actix::spawn(async move {
            while let Some(Ok(_bytes)) = output.next().await {
                sink.arrived();
            }
        });
    }
    let users: Vec<Id> = members.iter().map(|(u, _, _)| u.id).collect();
    let sessions = loop {
        let s = core.online.sessions_of(&users);
        if s.len() == n && s.iter().all(|r| r.shared.phase() == Some(Phase::Connected)) {
            break s;
        }
        actix::clock::sleep(Duration::from_millis(20)).await;
    };
    // Let HELLO and READY drain before counting starts.
    actix::clock::sleep(Duration::from_millis(200)).await;
    let readers = Readers::from_sessions(&sessions);
    let mut c = Community { channel: cid, owner, sessions, readers, dispatched: 0 };
    // One round trip through the channel actor (starts it and attaches it to the guild).
    send_and_wait(core, sink, &mut c).await;
    actix::clock::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.pending.load(Ordering::Acquire), 0, "every session got exactly one frame");
    c
}

/// What a heartbeat does every ~40 s: acknowledge everything received.
fn maybe_ack(c: &mut Community) {
    c.dispatched += 1;
    if c.dispatched.is_multiple_of(FRAMES_PER_ACK) {
        for s in &c.sessions {
            s.shared.ack(u64::MAX);
        }
    }
}

/// Send a message through the channel actor and wait until every reader has it.
async fn send_and_wait(core: &Arc<Core>, sink: &Sink, c: &mut Community) -> Duration {
    let addr = core.registry.channel(core, c.channel).unwrap().unwrap();
    sink.expect(c.sessions.len());
    let t = Instant::now();
    let sent = addr.send(SendMessage {
        author: c.owner.clone(),
        draft: hearth::domain::messages::Draft::new(&"x".repeat(100), None).expect("a valid draft"),
    });
    let (res, ()) = futures_util::join!(sent, sink.done.notified());
    let took = t.elapsed();
    res.unwrap().unwrap();
    maybe_ack(c);
    took
}

fn fanout(crit: &mut Criterion) {
    let sys = System::new();
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink { pending: AtomicIsize::new(0), done: tokio::sync::Notify::new() });
    let (core, mut communities) = sys.block_on(async {
        let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap();
        let config = Config {
            workers: 1,
            // No timeouts or idle stops while the bench runs; no rate limits in the way.
            heartbeat_interval_ms: 3_600_000,
            actor_idle_secs: 3600,
            rate_limit_scale: 1e9,
            ..Config::default()
        };
        let core = Core::new(store, config);
        let hub = WorkerHub { worker: 0, addr: Hub::new(0).start() };
        let mut communities = Vec::new();
        for n in [1_000, 10_000] {
            communities.push(community(&core, &hub, &sink, n).await);
        }
        (core, communities)
    });

    let mut g = crit.benchmark_group("fanout_one_event");
    g.sample_size(20);
    for c in &mut communities {
        let n = c.sessions.len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("publish", n), |b| {
            b.iter_custom(|iters| {
                sys.block_on(async {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        let m = message(i);
                        sink.expect(n);
                        let t = Instant::now();
                        // What the channel actor does once a message is durable.
                        c.readers.dispatch(event::MESSAGE_CREATE, &m);
                        sink.done.notified().await;
                        total += t.elapsed();
                        maybe_ack(c);
                    }
                    total
                })
            })
        });
        g.bench_function(BenchmarkId::new("send_via_channel_actor", n), |b| {
            b.iter_custom(|iters| {
                sys.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += send_and_wait(&core, &sink, c).await;
                    }
                    total
                })
            })
        });
    }
    g.finish();

    // The per-session step alone: what the hub runs for each target.
    let mut g = crit.benchmark_group("session_deliver");
    for c in &mut communities {
        let n = c.sessions.len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                sys.block_on(async {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        let ev = hearth::protocol::SharedEvent::new(event::MESSAGE_CREATE, &message(i), false);
                        sink.expect(n);
                        let t = Instant::now();
                        for s in &c.sessions {
                            s.shared.deliver(&ev);
                        }
                        total += t.elapsed();
                        // Untimed: let the sessions write it, so mailboxes never fill.
                        sink.done.notified().await;
                        maybe_ack(c);
                    }
                    total
                })
            })
        });
    }
    g.finish();

    // Building a channel's reader set session by session, as guild connects do.
    let mut g = crit.benchmark_group("readers_add");
    g.sample_size(10);
    for c in &communities {
        let n = c.sessions.len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| criterion::black_box(Readers::from_sessions(&c.sessions)))
        });
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
