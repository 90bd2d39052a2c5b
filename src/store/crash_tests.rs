//! Power loss at every sync point, checked exhaustively rather than sampled.
//!
//! The database runs on [`SimDisk`], an in-memory redb storage backend that
//! keeps two images: `live` (what the process sees) and `durable` (the bytes
//! as of the last completed `sync_data`). A run drives the real [`Store`]
//! writer through a fixed workload (single commits and group commits, enough
//! data to grow the file) and records which `Store::write` futures resolved
//! `Ok`. The run is deterministic (fixed ids and timestamps, group commits
//! formed behind a gate), so its sync points can be counted once and then
//! each one crashed at in turn:
//!
//! * `FreezeAfter(k)`: sync `k` completes, then the power is gone: every
//!   later write, resize or sync fails. What survives is the image at sync
//!   `k`. Acknowledgements sent after sync `k` returned are counted as
//!   delivered (stricter than reality).
//! * `FailSync(k)`: the power goes during sync `k`. What survives is the image
//!   at sync `k - 1` plus any part of what was written since: redb's media
//!   model (single bytes are atomic, nothing outside a written range changes)
//!   allows any old/new mix per byte, so the variants below apply the header
//!   alone, the data alone, halves, random sectors and random bytes, with the
//!   old or the new file length.
//!
//! Every surviving image must open cleanly (redb's integrity check passes),
//! hold every acknowledged write exactly as written, hold nothing that was
//! never written and nothing twice, be the state after some whole commit
//! (group commits are atomic), and keep the id high-water mark so new ids
//! sort after everything stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Instant;

use redb::backends::InMemoryBackend;
use redb::{Builder, ReadableTableMetadata, StorageBackend};

use super::tables::MESSAGES;
use super::{HistoryQuery, Read, Store, StoreError, Write};
use crate::model::ids::{IdGenerator, EPOCH_MS};
use crate::model::{Author, Id, Message, TokenRecord, User, UserRecord};

/// What happens to the simulated power.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Power {
    /// Never fails; the run only counts sync points.
    #[default]
    On,
    /// Sync `k` completes, then nothing reaches the disk any more.
    FreezeAfter(u64),
    /// Sync `k` does not complete.
    FailSync(u64),
}

/// What a `FailSync` crash left behind, before choosing which unsynced bytes landed.
#[derive(Clone, Debug)]
struct Lost {
    /// Bytes as of the last completed sync.
    durable: Vec<u8>,
    /// Writes since then, as (offset, bytes), sorted by offset.
    pending: Vec<(usize, Vec<u8>)>,
    /// File length the process saw at the crash.
    live_len: usize,
}

#[derive(Default)]
struct Disk {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<(usize, Vec<u8>)>,
    power: Power,
    dead: bool,
    /// Sync calls so far (completed or not).
    syncs: u64,
    /// After each sync call: a running hash of the bytes it covered, to check
    /// that every run reaches the same sync points with the same contents.
    fingerprints: Vec<u64>,
    lost: Option<Lost>,
}

/// An in-memory redb backend that can lose power at a chosen sync point.
#[derive(Clone, Default)]
struct SimDisk(Arc<Mutex<Disk>>);

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDisk").field("len", &self.disk().live.len()).finish()
    }
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss")
}

impl SimDisk {
    fn new(power: Power) -> SimDisk {
        let d = SimDisk::default();
        d.disk().power = power;
        if power == Power::FreezeAfter(0) {
            d.disk().dead = true;
        }
        d
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StorageBackend for SimDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.disk().live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        // Reads keep working from the page cache; only persistence is lost.
        let d = self.disk();
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let src = d.live.get(start..start + out.len()).ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(power_lost());
        }
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        d.live.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(power_lost());
        }
        d.syncs += 1;
        let fp = d.fingerprint();
        d.fingerprints.push(fp);
        let k = d.syncs;
        if d.power == Power::FailSync(k) {
            let mut pending = std::mem::take(&mut d.pending);
            pending.sort_by_key(|(off, _)| *off);
            d.lost = Some(Lost { durable: d.durable.clone(), pending, live_len: d.live.len() });
            d.dead = true;
            return Err(power_lost());
        }
        d.durable = d.live.clone();
        d.pending.clear();
        if d.power == Power::FreezeAfter(k) {
            d.dead = true;
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(power_lost());
        }
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let end = start + data.len();
        if end > d.live.len() {
            d.live.resize(end, 0);
        }
        d.live[start..end].copy_from_slice(data);
        d.pending.push((start, data.to_vec()));
        Ok(())
    }
}

impl Disk {
    /// Hash of the previous fingerprint, the length and the final contents of
    /// every range written since the last sync (independent of write order).
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.fingerprints.last().hash(&mut h);
        self.live.len().hash(&mut h);
        let mut ranges: Vec<(usize, usize)> = self.pending.iter().map(|(off, data)| (*off, off + data.len())).collect();
        ranges.sort_unstable();
        ranges.dedup();
        for (start, end) in ranges {
            start.hash(&mut h);
            let end = end.min(self.live.len());
            if start < end {
                self.live[start..end].hash(&mut h);
            }
        }
        h.finish()
    }
}

/// One step of the workload.
#[derive(Clone, Copy)]
enum Step {
    /// A user and a login token, in one write.
    User,
    /// Messages written one by one, each acknowledged before the next.
    Single { count: usize, size: usize },
    /// Messages queued behind a gate so that they share one group commit.
    Group { count: usize, size: usize },
}

const WORKLOAD: &[Step] = &[
    Step::User,
    Step::Single { count: 4, size: 40 },
    Step::Group { count: 48, size: 3000 },
    Step::Single { count: 3, size: 200 },
    Step::Group { count: 150, size: 500 },
    Step::Single { count: 2, size: 3900 },
    Step::Group { count: 300, size: 3900 },
    Step::Single { count: 3, size: 100 },
    Step::Group { count: 2, size: 10 },
    Step::Single { count: 1, size: 3900 },
];

const CHANNELS: [u64; 3] = [1001, 1002, 1003];
const TOKEN_HASH: [u8; 32] = [7; 32];

/// Fixed times keep every run byte-for-byte the same.
fn at(ms: u64) -> u64 {
    EPOCH_MS + 1_000_000 + ms
}

/// What a run wrote and which writes were acknowledged.
#[derive(Default)]
struct Run {
    /// The user and token, once made.
    user: Option<(UserRecord, TokenRecord)>,
    /// Every message submitted, in submission order.
    messages: Vec<Message>,
    /// Writes per commit, as items: 0 is the user, i + 1 is `messages[i]`.
    commits: Vec<Vec<usize>>,
    /// Acknowledged items.
    acked: HashSet<usize>,
    /// Sync calls made.
    syncs: u64,
    fingerprints: Vec<u64>,
    /// Commits of the writer thread (batches, requests), for the count run.
    writer_stats: (u64, u64),
}

/// A submitted write: its future was polled once, so the job is queued.
enum Submitted<F: Future> {
    Ready(F::Output),
    Waiting(Pin<Box<F>>),
}

fn submit<F: Future>(rt: &tokio::runtime::Runtime, f: F) -> Submitted<F> {
    let mut f = Box::pin(f);
    match rt.block_on(std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx)))) {
        Poll::Ready(v) => Submitted::Ready(v),
        Poll::Pending => Submitted::Waiting(f),
    }
}

impl<F: Future> Submitted<F> {
    fn wait(self, rt: &tokio::runtime::Runtime) -> F::Output {
        match self {
            Submitted::Ready(v) => v,
            Submitted::Waiting(f) => rt.block_on(f),
        }
    }
}

fn message(i: usize, size: usize, author: &User) -> Message {
    let channel = CHANNELS[i % CHANNELS.len()];
    let fill = char::from(b'a' + (i % 26) as u8);
    let mut content = format!("m{i:04} ");
    content.extend(std::iter::repeat_n(fill, size));
    let mut m = Message::new(Id(0), Id(channel), Some(Id(99)), Author::from(author), content);
    m.nonce = Some(format!("n{i}"));
    m.created_at = 0;
    m
}

/// Run the workload on `disk` until the end or until the power is gone.
fn run_workload(disk: &SimDisk) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut run = Run::default();
    let finish = |mut run: Run| {
        let d = disk.disk();
        run.syncs = d.syncs;
        run.fingerprints = d.fingerprints.clone();
        run
    };
    let Ok(db) = Builder::new().create_with_backend(disk.clone()) else {
        return finish(run);
    };
    let Ok(store) = Store::from_database(db, Arc::new(IdGenerator::new(0))) else {
        return finish(run);
    };
    let ids = store.ids();
    let user = User {
        id: ids.next_at(at(0)),
        username: "alice".into(),
        display_name: Some("Alice".into()),
        created_at: at(0),
    };
    let mut clock = 1;
    for step in WORKLOAD {
        match *step {
            Step::User => {
                let rec = UserRecord {
                    user: user.clone(),
                    password_hash: "$argon2id$v=19$m=256,t=1,p=1$c2FsdA$aGFzaA".into(),
                    admin: false,
                    disabled: false,
                };
                let token = TokenRecord {
                    id: ids.next_at(at(0)),
                    user_id: user.id,
                    created_at: at(0),
                    client: Some("crash-test".into()),
                };
                let (r, t) = (rec.clone(), token.clone());
                let res = rt.block_on(store.write(move |w| -> Result<(), StoreError> {
                    w.put_user(&r, "alice")?;
                    w.put_token(&TOKEN_HASH, &t)
                }));
                run.user = Some((rec, token));
                run.commits.push(vec![0]);
                if res.is_ok() {
                    run.acked.insert(0);
                }
            }
            Step::Single { count, size } => {
                for _ in 0..count {
                    let i = run.messages.len();
                    let mut m = message(i, size, &user);
                    m.id = ids.next_at(at(clock));
                    m.created_at = at(clock);
                    clock += 1;
                    run.messages.push(m.clone());
                    let res = rt.block_on(store.write(move |w| w.put_message(&m)));
                    run.commits.push(vec![i + 1]);
                    if res.is_ok() {
                        run.acked.insert(i + 1);
                    }
                }
            }
            Step::Group { count, size } => {
                // The gate holds the writer inside a commit of its own until
                // every message is queued, so they all go into the next one.
                let (started_tx, started_rx) = mpsc::channel::<()>();
                let (release_tx, release_rx) = mpsc::channel::<()>();
                let gate = submit(
                    &rt,
                    store.write(move |_| -> Result<(), StoreError> {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                        Ok(())
                    }),
                );
                // Err: the gate was dropped unrun because its commit could not begin.
                let _ = started_rx.recv();
                run.commits.push(Vec::new());
                let mut queued = Vec::with_capacity(count);
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    let i = run.messages.len();
                    let mut m = message(i, size, &user);
                    m.id = ids.next_at(at(clock));
                    m.created_at = at(clock);
                    clock += 1;
                    run.messages.push(m.clone());
                    items.push(i + 1);
                    queued.push((i + 1, submit(&rt, store.write(move |w| w.put_message(&m)))));
                }
                let _ = release_tx.send(());
                let _ = gate.wait(&rt);
                for (item, q) in queued {
                    if q.wait(&rt).is_ok() {
                        run.acked.insert(item);
                    }
                }
                run.commits.push(items);
            }
        }
    }
    let stats = store.commit_stats();
    run.writer_stats = (
        stats.batches.load(std::sync::atomic::Ordering::Relaxed),
        stats.requests.load(std::sync::atomic::Ordering::Relaxed),
    );
    store.shutdown();
    store.wait_closed();
    // Dropping the last handle closes the database (its own shutdown syncs).
    drop(store);
    finish(run)
}

/// A small deterministic generator for the random tears.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// The durable image with some of the pending bytes landed, in units of
/// `unit` bytes (aligned to the file), at file length `len`.
fn overlay(lost: &Lost, len: usize, unit: usize, lands: &mut dyn FnMut(usize, usize) -> bool) -> Vec<u8> {
    let mut img = lost.durable.clone();
    img.resize(len, 0);
    for (w, (off, data)) in lost.pending.iter().enumerate() {
        let end = off + data.len();
        let mut pos = *off;
        while pos < end {
            let unit_end = ((pos / unit + 1) * unit).min(end);
            if pos < len && lands(w, pos) {
                let stop = unit_end.min(len);
                img[pos..stop].copy_from_slice(&data[pos - off..stop - off]);
            }
            pos = unit_end;
        }
    }
    img
}

/// The images a power loss during a sync may leave, by name.
fn torn_images(lost: &Lost) -> Vec<(String, Vec<u8>)> {
    let old = lost.durable.len();
    let new = lost.live_len;
    let n = lost.pending.len();
    let is_header = |w: usize| lost.pending[w].0 == 0;
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("nothing".into(), overlay(lost, old, 512, &mut |_, _| false)),
        ("everything, old length".into(), overlay(lost, old, 512, &mut |_, _| true)),
        ("header only".into(), overlay(lost, new, 512, &mut |w, _| is_header(w))),
        ("header only, old length".into(), overlay(lost, old, 512, &mut |w, _| is_header(w))),
        ("all but the header".into(), overlay(lost, new, 512, &mut |w, _| !is_header(w))),
        ("lower half".into(), overlay(lost, new, 512, &mut |w, _| w < n / 2)),
        ("upper half".into(), overlay(lost, new, 512, &mut |w, _| w >= n / 2)),
        ("upper half and the header".into(), overlay(lost, new, 512, &mut |w, _| w >= n / 2 || is_header(w))),
    ];
    for seed in 1..=3u64 {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ seed);
        out.push((format!("random sectors #{seed}"), overlay(lost, new, 512, &mut |_, _| rng.next() & 1 == 1)));
    }
    for seed in 4..=5u64 {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ seed);
        out.push((format!("random bytes #{seed}"), overlay(lost, new, 1, &mut |_, _| rng.next() & 1 == 1)));
    }
    out
}

/// Open a surviving image and check it against the run. Returns how many
/// items it held.
fn check_image(image: &[u8], run: &Run) -> Result<usize, String> {
    let backend = InMemoryBackend::new();
    backend
        .set_len(image.len() as u64)
        .and_then(|()| backend.write(0, image))
        .map_err(|e| format!("seeding the image: {e}"))?;
    let mut db = Builder::new().create_with_backend(backend).map_err(|e| format!("the database does not open: {e}"))?;
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => return Err("integrity check failed after open (repaired)".into()),
        Err(e) => return Err(format!("integrity check: {e}")),
    }
    let store =
        Store::from_database(db, Arc::new(IdGenerator::new(0))).map_err(|e| format!("Store::from_database: {e}"))?;
    let result = check_store(&store, run);
    store.shutdown();
    store.wait_closed();
    result
}

fn check_store(store: &Store, run: &Run) -> Result<usize, String> {
    let r = store.read().map_err(|e| e.to_string())?;
    let mut present: HashSet<usize> = HashSet::new();

    // The user and the token were one write: both or neither.
    let user = r.user_id_by_name("alice").map_err(|e| e.to_string())?;
    let token = r.token(&TOKEN_HASH).map_err(|e| e.to_string())?;
    match (&run.user, user, token) {
        (_, None, None) => {}
        (Some((rec, tok)), Some(uid), Some(t)) => {
            if uid != rec.user.id || t != *tok {
                return Err(format!("user/token differ: {uid:?} {t:?}"));
            }
            let stored = r.user_record(uid).map_err(|e| e.to_string())?;
            if stored.as_ref().map(|s| &s.user) != Some(&rec.user) {
                return Err(format!("user record differs: {stored:?}"));
            }
            let sessions = r.user_tokens(uid).map_err(|e| e.to_string())?;
            if sessions != vec![(tok.id, TOKEN_HASH.to_vec())] {
                return Err(format!("user's sessions differ: {sessions:?}"));
            }
            present.insert(0);
        }
        (_, u, t) => return Err(format!("half a write: username {u:?}, token {t:?}")),
    }

    // Every stored message, through history paging like a client would.
    let by_id: HashMap<Id, usize> = run.messages.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    let mut contents = HashSet::new();
    let mut max_id = Id(0);
    if let Some((rec, tok)) = run.user.as_ref().filter(|_| present.contains(&0)) {
        max_id = max_id.max(rec.user.id).max(tok.id);
    }
    let mut seen = 0usize;
    for c in CHANNELS {
        let mut after = Id(0);
        loop {
            let page = r.history(Id(c), HistoryQuery::After(after), 100).map_err(|e| format!("history of {c}: {e}"))?;
            let Some(last) = page.last() else { break };
            let next_after = last.id;
            for m in page {
                if m.id <= after {
                    return Err(format!("history out of order at {:?} after {after:?}", m.id));
                }
                after = m.id;
                seen += 1;
                let Some(&i) = by_id.get(&m.id) else {
                    return Err(format!("a message nobody wrote: {m:?}"));
                };
                if m != run.messages[i] {
                    return Err(format!("message {i} differs: {m:?}"));
                }
                if !contents.insert(m.content.clone()) {
                    return Err(format!("content stored twice: {}", &m.content[..6]));
                }
                present.insert(i + 1);
                max_id = max_id.max(m.id);
            }
            after = next_after;
        }
    }
    let rows = r.table(MESSAGES).and_then(|t| Ok(t.len()?)).map_err(|e| e.to_string())?;
    if rows != seen as u64 {
        return Err(format!("{rows} message rows, {seen} reachable through history"));
    }
    drop(r);

    // Acknowledged means present.
    let mut missing: Vec<usize> = run.acked.difference(&present).copied().collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        return Err(format!(
            "{} acknowledged writes lost (items {:?}...)",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }

    // Commits are atomic and in order: what is there is exactly what the
    // first c commits wrote, for some c.
    let mut prefix: HashSet<usize> = HashSet::new();
    let mut whole = prefix == present;
    for commit in &run.commits {
        prefix.extend(commit.iter().copied());
        whole |= prefix == present;
    }
    if !whole {
        let mut p: Vec<_> = present.iter().copied().collect();
        p.sort_unstable();
        return Err(format!(
            "not the state after a whole commit: {} items present ({:?}..{:?})",
            p.len(),
            p.first(),
            p.last()
        ));
    }

    // New ids sort after everything stored, even with the clock far behind.
    let id = store.ids().next_at(EPOCH_MS + 1);
    if id <= max_id {
        return Err(format!("new id {id:?} not above stored {max_id:?}"));
    }
    // And the recovered database takes writes.
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let author = User { id: Id(5), username: "bob".into(), display_name: None, created_at: 0 };
    let mut m = message(9999, 10, &author);
    m.id = id;
    let stored = m.clone();
    rt.block_on(store.write(move |w| w.put_message(&stored))).map_err(|e| format!("write after recovery: {e}"))?;
    let back = store.read().and_then(|r| r.message(m.channel_id, m.id)).map_err(|e| e.to_string())?;
    if back.as_ref() != Some(&m) {
        return Err("write after recovery not readable".into());
    }
    Ok(present.len())
}

fn image_key(img: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    img.hash(&mut h);
    h.finish()
}

/// Sync calls redb makes while creating a new database file.
fn creation_syncs() -> u64 {
    let disk = SimDisk::new(Power::On);
    let db = Builder::new().create_with_backend(disk.clone()).expect("create");
    let syncs = disk.disk().syncs;
    drop(db);
    syncs
}

/// Every surviving image: the image at each completed sync, and the torn
/// images of a power loss during each sync, for the sync points in `range`.
fn crash_images(
    range: std::ops::RangeInclusive<u64>,
    reference: &Run,
    mut check: impl FnMut(String, &[u8], &Run),
) -> Vec<String> {
    let n = reference.syncs;
    let mut diverged = Vec::new();
    for k in range.clone() {
        // The power goes right after sync k completed.
        let disk = SimDisk::new(Power::FreezeAfter(k));
        let run = run_workload(&disk);
        let image = disk.disk().durable.clone();
        if run.fingerprints[..] != reference.fingerprints[..k as usize] {
            diverged.push(format!("freeze after sync {k}: the run diverged"));
        }
        check(format!("power lost after sync {k}/{n}"), &image, &run);
    }
    for k in range.filter(|k| *k >= 1) {
        // The power goes during sync k.
        let disk = SimDisk::new(Power::FailSync(k));
        let run = run_workload(&disk);
        if run.fingerprints[..] != reference.fingerprints[..k as usize] {
            diverged.push(format!("fail sync {k}: the run diverged"));
        }
        let lost = disk.disk().lost.clone().expect("sync k was reached");
        let mut done = HashSet::new();
        for (name, img) in torn_images(&lost) {
            if done.insert(image_key(&img)) {
                check(format!("power lost during sync {k}/{n}, {name}"), &img, &run);
            }
        }
    }
    diverged
}

/// The undisturbed run, checked to be what the workload plans.
fn reference_run() -> Run {
    let reference = run_workload(&SimDisk::new(Power::On));
    let items = 1 + reference.messages.len();
    assert_eq!(reference.acked.len(), items, "an undisturbed run acknowledges everything");
    let commits = reference.commits.len() as u64;
    let gates = reference.commits.iter().filter(|c| c.is_empty()).count() as u64;
    assert_eq!(
        reference.writer_stats,
        (commits, 1 + gates + reference.messages.len() as u64),
        "group commits formed as planned (batches, requests)"
    );
    assert!(reference.syncs > commits);
    reference
}

/// Once the database file exists, a power loss at any sync point leaves a
/// database that opens cleanly with every acknowledged write, once.
#[test]
fn power_loss_at_every_sync_point_keeps_every_acknowledged_write() {
    let started = Instant::now();
    let reference = reference_run();
    let n = reference.syncs;
    // The sync points inside redb's creation of a new file are covered by
    // `a_crash_while_creating_the_database_leaves_a_data_dir_that_opens`.
    let created = creation_syncs();

    let mut failures: Vec<String> = Vec::new();
    let mut images = 0usize;
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let diverged = crash_images(created..=n, &reference, |label, img, run| {
        images += 1;
        match check_image(img, run) {
            Ok(present) => {
                let kind = if present == 0 {
                    "empty"
                } else if run.acked.len() == present {
                    "exactly the acknowledged writes"
                } else {
                    "acknowledged plus unacknowledged writes"
                };
                *outcomes.entry(kind).or_default() += 1;
            }
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    });
    failures.extend(diverged);

    eprintln!(
        "power loss: sync points {created}..={n} of {n} ({} commits of {} writes), \
         {images} distinct crash images: {outcomes:?}; {:?}",
        reference.commits.len(),
        1 + reference.messages.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{} of {images} crash images failed:\n{}", failures.len(), failures.join("\n"));
}

/// Open a data dir whose database file holds `image`, the way the server
/// does at start, and check it is usable.
fn open_data_dir(image: &[u8], file_name: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join(file_name), image).map_err(|e| e.to_string())?;
    let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let author = User { id: Id(5), username: "bob".into(), display_name: None, created_at: 0 };
    let mut m = message(0, 10, &author);
    m.id = store.ids().next();
    let res = rt.block_on(store.write(move |w| w.put_message(&m)));
    store.shutdown();
    store.wait_closed();
    res.map_err(|e| format!("write: {e}"))
}

/// The first start creates the database file. redb writes the new file's
/// header without its magic number, syncs, then writes the magic number and
/// syncs again; a crash in between (power loss, or kill -9 during the first
/// sync) would leave a file that every later start refuses as "not a redb
/// database". `Store::open` therefore creates the file under a temporary name
/// and renames it into place once complete, so a crash leaves only the
/// temporary file. Nothing was acknowledged yet, so the data dir must open.
#[test]
fn a_crash_while_creating_the_database_leaves_a_data_dir_that_opens() {
    let reference = reference_run();
    let created = creation_syncs();
    let mut failures: Vec<String> = Vec::new();
    let mut images = 0usize;
    let diverged = crash_images(0..=created, &reference, |label, img, _| {
        images += 1;
        let being_created = format!("{}.creating", super::DB_FILE);
        if let Err(e) = open_data_dir(img, &being_created) {
            failures.push(format!("{label} ({} bytes): {e}", img.len()));
        }
    });
    failures.extend(diverged);
    assert!(
        failures.is_empty(),
        "{} of {images} crash images of the database's creation do not open:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
