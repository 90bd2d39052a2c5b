//! Property tests for everything a client can put on the gateway: the frame
//! decoder in both encodings, every command's payload (`d`), the validation
//! that follows decoding, and the hand-written dispatch frames the server
//! sends back. proptest is the fuzzer that runs in CI (`cargo test`): every
//! property runs from 300 to 10 000 generated cases (about 5 s in all,
//! unoptimized; `HEARTH_FUZZ_SCALE=N` multiplies them for a long run), and
//! each also checks a positive result, so a generator that only ever produced
//! garbage could not pass unnoticed.
//!
//! "Never panics" is checked by running every decoder the session runs on a
//! frame ([`decode_everything`]); proptest turns a panic into a failing,
//! shrunk case. Stack and memory bounds are checked directly: deep nesting is
//! decoded on a thread with a deliberately small stack, and allocations are
//! measured by a pass-through allocator ([`alloc_probe`]).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use super::codec::{decode_data, decode_op, msgpack_from_slice, DecodeError, Encoding, SharedEvent};
use super::commands::{Identify, PresenceUpdate, RequestGuildMembers, Resume, SendMessage, Typing};
use super::limits::MAX_DECODE_DEPTH;
use super::op::Op;
use crate::model::limits::{
    MAX_DISPLAY_NAME_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_NONCE_BYTES, MAX_PASSWORD_CHARS, MAX_TOPIC_CHARS,
    MAX_USERNAME_CHARS, MIN_MESSAGE_CHARS, MIN_PASSWORD_CHARS, MIN_USERNAME_CHARS,
};
use crate::model::{validate, Id, Status};

const ENCODINGS: [Encoding; 2] = [Encoding::MsgPack, Encoding::Json];

/// serde_json's built-in recursion limit (for values it builds).
const JSON_DEPTH_LIMIT: usize = 128;

/// The deepest MessagePack nesting (arrays/maps, the frame map included)
/// that decodes: `MAX_DECODE_DEPTH`, as limits.rs documents.
const MSGPACK_DEEPEST: usize = MAX_DECODE_DEPTH;

/// Stack for the deep-nesting properties. Unoptimized, rmp-serde skipping
/// nested arrays with no depth limit overflows this stack at under 75 levels
/// (measured), so 100 000 levels decoded here prove the bound holds; a server
/// worker thread has Rust's default 2 MiB.
const SMALL_STACK: usize = 256 * 1024;

/// Largest single allocation any decoder may make for the small frames
/// generated here: far below any length a header can declare.
const ALLOC_BOUND: usize = 64 * 1024;

/// A proptest config running `cases` cases, times `HEARTH_FUZZ_SCALE` when
/// set (e.g. `HEARTH_FUZZ_SCALE=100 cargo test --lib fuzz_tests` for a long
/// fuzzing run; CI runs the default, a few seconds in all).
fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("HEARTH_FUZZ_SCALE").ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(1).max(1);
    ProptestConfig::with_cases(cases.saturating_mul(scale))
}

// ---------------------------------------------------------------------------
// Measuring allocations.
// ---------------------------------------------------------------------------

/// A pass-through global allocator (this test binary only) that records, for
/// the current thread and only while asked to, the largest single allocation.
/// It proves that a header declaring 4 GiB makes no 4 GiB allocation: on Linux
/// such an allocation could succeed (overcommit), so timing alone would not.
mod alloc_probe {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Probe;

    thread_local! {
        static TRACKING: Cell<bool> = const { Cell::new(false) };
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        // try_with: the allocator also runs while thread-locals are torn down.
        let _ = TRACKING.try_with(|t| {
            if t.get() {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            }
        });
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; the
    // bookkeeping touches only const-initialized thread-locals (no allocation).
    unsafe impl GlobalAlloc for Probe {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Probe = Probe;

    /// Run `f` and return its result with the largest single allocation
    /// (in bytes) it made on this thread.
    pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
        LARGEST.with(|l| l.set(0));
        TRACKING.with(|t| t.set(true));
        let r = f();
        TRACKING.with(|t| t.set(false));
        (r, LARGEST.with(Cell::get))
    }
}

use alloc_probe::largest_allocation;

#[test]
fn the_allocation_probe_sees_a_large_allocation() {
    // Otherwise the bounds below would hold vacuously.
    let ((), largest) = largest_allocation(|| {
        let v: Vec<u8> = Vec::with_capacity(16 << 20);
        std::hint::black_box(&v);
    });
    assert!(largest >= 16 << 20, "{largest}");
    let ((), nothing) = largest_allocation(|| ());
    assert_eq!(nothing, 0);
}

// ---------------------------------------------------------------------------
// Running every decoder.
// ---------------------------------------------------------------------------

/// What the decoders made of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    /// `decode_op`, if it accepted the frame.
    op: Option<Op>,
    /// Whether `decode_data` accepted `d` as each command, in [`COMMAND_OPS`] order.
    accepted: [bool; 7],
}

/// The client ops, in the order of [`Outcome::accepted`].
const COMMAND_OPS: [Op; 7] =
    [Op::Heartbeat, Op::Identify, Op::PresenceUpdate, Op::Resume, Op::RequestGuildMembers, Op::SendMessage, Op::Typing];

fn slot(op: Op) -> usize {
    COMMAND_OPS.iter().position(|o| *o == op).expect("a client op")
}

/// Ok or Err: either is fine. The error's text is rendered because the
/// session puts it in close reasons and ERROR frames.
fn settle<T>(r: Result<T, DecodeError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

/// Run every decoder the session may run on a frame, in one encoding, plus
/// the validation a decoded SEND_MESSAGE goes through. Any panic fails the
/// property that called this.
fn decode_everything(bytes: &[u8], enc: Encoding) -> Outcome {
    let op = settle(decode_op(bytes, enc));
    let heartbeat = settle(decode_data::<Option<u64>>(bytes, enc, Op::Heartbeat));
    let identify = settle(decode_data::<Identify>(bytes, enc, Op::Identify));
    if let Some(i) = &identify {
        let _ = crate::auth::token_hash(i.token.expose());
    }
    let presence = settle(decode_data::<PresenceUpdate>(bytes, enc, Op::PresenceUpdate));
    let resume = settle(decode_data::<Resume>(bytes, enc, Op::Resume));
    let members = settle(decode_data::<RequestGuildMembers>(bytes, enc, Op::RequestGuildMembers));
    let send = settle(decode_data::<SendMessage>(bytes, enc, Op::SendMessage));
    if let Some(cmd) = &send {
        let _ = validate::content(&cmd.content);
        let _ = validate::nonce(cmd.nonce.clone());
    }
    let typing = settle(decode_data::<Typing>(bytes, enc, Op::Typing));
    Outcome {
        op,
        accepted: [
            heartbeat.is_some(),
            identify.is_some(),
            presence.is_some(),
            resume.is_some(),
            members.is_some(),
            send.is_some(),
            typing.is_some(),
        ],
    }
}

/// [`decode_everything`], asserting that no single allocation exceeds [`ALLOC_BOUND`].
fn decode_bounded(bytes: &[u8], enc: Encoding) -> Outcome {
    let (outcome, largest) = largest_allocation(|| decode_everything(bytes, enc));
    assert!(
        largest <= ALLOC_BOUND,
        "decoding {} bytes of {enc:?} allocated {largest} bytes at once: {:02x?}",
        bytes.len(),
        &bytes[..bytes.len().min(64)]
    );
    outcome
}

const REJECTED: Outcome = Outcome { op: None, accepted: [false; 7] };

fn encode(v: &Value, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::Json => serde_json::to_vec(v).expect("json"),
        Encoding::MsgPack => rmp_serde::to_vec_named(v).expect("msgpack"),
    }
}

/// Run `f` on a thread with a [`SMALL_STACK`]; a panic in it is re-raised here.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let t = std::thread::Builder::new().name("small-stack".into()).stack_size(SMALL_STACK).spawn(f).expect("spawn");
    t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

// ---------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------

/// Bytes MessagePack gives meaning to: every kind of header, nil, bool, the
/// unused 0xc1, and the 8-byte lengths' first bytes.
const MSGPACK_MARKERS: &[u8] = &[
    0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa2, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
    0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xff,
];

/// Bytes that matter to JSON, plus bytes that break UTF-8.
const JSON_MARKERS: &[u8] = b"{}[]\":,\\ -+.0123456789eEtrufalsn\x00\x1f\x7f\x80\xbf\xc3\xe2\xed\xf0\xf4\xff";

fn marker_bytes(markers: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![any::<u8>(), prop::sample::select(markers)], 0..max)
}

/// Strings from every corner of Unicode, plus plain ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[a-zA-Z0-9 ]{0,24}",
        1 => "[\"\\\\/\\x00-\\x1f\\u{7f}\\u{2028}\\u{2029}\\u{feff}\\u{fffd}😀é]{0,16}",
        1 => "\\PC{0,64}",
    ]
}

fn status_name() -> impl Strategy<Value = String> {
    prop::sample::select(&["online", "idle", "dnd", "offline"][..]).prop_map(String::from)
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..6).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A frame a client could legitimately send, with the op it is for. Ids are
/// integers here; [`stringify_ids`] turns them into JSON's strings.
fn valid_frame() -> impl Strategy<Value = (Op, Value)> {
    let opt_text = || prop::option::of(text());
    prop_oneof![
        prop::option::of(any::<u64>()).prop_map(|s| (Op::Heartbeat, json!({"op": 1, "d": s}))),
        (text(), prop::option::of(status_name())).prop_map(|(token, presence)| {
            let mut d = json!({"token": token});
            if let Some(p) = presence {
                d["presence"] = json!(p);
            }
            (Op::Identify, json!({"op": 2, "d": d}))
        }),
        status_name().prop_map(|s| (Op::PresenceUpdate, json!({"op": 3, "d": {"status": s}}))),
        (text(), text(), any::<u64>()).prop_map(|(token, session_id, seq)| {
            (Op::Resume, json!({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}}))
        }),
        (any::<u64>(), prop::option::of(any::<u32>()), prop::option::of(any::<u64>()), any::<bool>(), opt_text())
            .prop_map(|(guild_id, limit, after, presences, nonce)| {
                let d = json!({"guild_id": guild_id, "limit": limit, "after": after, "presences": presences, "nonce": nonce});
                (Op::RequestGuildMembers, json!({"op": 8, "d": d}))
            }),
        (any::<u64>(), text(), opt_text()).prop_map(|(channel_id, content, nonce)| {
            (Op::SendMessage, json!({"op": 40, "d": {"channel_id": channel_id, "content": content, "nonce": nonce}}))
        }),
        any::<u64>().prop_map(|channel_id| (Op::Typing, json!({"op": 42, "d": {"channel_id": channel_id}}))),
    ]
}

/// A valid frame, sometimes with unknown fields added (which every decoder ignores).
fn valid_frame_with_extras() -> impl Strategy<Value = (Op, Value)> {
    (valid_frame(), prop::option::of(("[a-z_]{1,8}", json_value())), prop::option::of(("[a-z_]{1,8}", json_value())))
        .prop_map(|((op, mut frame), outer, inner)| {
            if let Some((k, v)) = outer {
                if k != "op" && k != "d" {
                    frame[k] = v;
                }
            }
            if let (Some((k, v)), Some(d)) = (inner, frame["d"].as_object_mut()) {
                if !d.contains_key(&k) {
                    d.insert(k, v);
                }
            }
            (op, frame)
        })
}

/// Ids as decimal strings, as JSON clients send them.
fn stringify_ids(frame: &mut Value) {
    if let Some(d) = frame["d"].as_object_mut() {
        for key in ["channel_id", "guild_id", "after"] {
            if let Some(v) = d.get_mut(key) {
                if let Some(n) = v.as_u64() {
                    *v = Value::String(n.to_string());
                }
            }
        }
    }
}

/// One structural change to an encoded frame.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the frame short.
    Truncate(Index),
    /// XOR one byte.
    Flip(Index, u8),
    /// Overwrite one byte with a byte the format gives meaning to.
    Marker(Index, u8),
    /// Insert random bytes.
    Splice(Index, Vec<u8>),
    /// Remove a run of bytes.
    Delete(Index, usize),
    /// Repeat a run of bytes.
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let markers: Vec<u8> = MSGPACK_MARKERS.iter().chain(JSON_MARKERS).copied().collect();
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<Index>(), prop::sample::select(markers)).prop_map(|(i, b)| Mutation::Marker(i, b)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12)).prop_map(|(i, b)| Mutation::Splice(i, b)),
        (any::<Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Splice(_, b) = m {
            bytes.extend_from_slice(b);
        }
        return;
    }
    let len = bytes.len();
    match m {
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::Flip(i, x) => bytes[i.index(len)] ^= x,
        Mutation::Marker(i, b) => bytes[i.index(len)] = *b,
        Mutation::Splice(i, b) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(len);
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Duplicate(i, n) => {
            let at = i.index(len);
            let run = bytes[at..(at + n).min(len)].to_vec();
            bytes.splice(at..at, run);
        }
    }
}

// ---------------------------------------------------------------------------
// (a) Arbitrary bytes, (b) mutated valid frames.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(10_000))]

    /// Arbitrary bytes, in both encodings, through every decoder.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for enc in ENCODINGS {
            decode_bounded(&bytes, enc);
        }
    }

    /// Bytes made mostly of the bytes each format gives meaning to.
    #[test]
    fn marker_heavy_bytes_never_panic(mp in marker_bytes(MSGPACK_MARKERS, 96), js in marker_bytes(JSON_MARKERS, 96)) {
        decode_bounded(&mp, Encoding::MsgPack);
        decode_bounded(&js, Encoding::Json);
    }

    /// Text (what a JSON connection actually delivers: the server refuses
    /// non-UTF-8 text frames before decoding), random and JSON-looking.
    #[test]
    fn arbitrary_text_never_panics(
        s in prop_oneof![any::<String>(), "[\\[\\]{}\":,0-9a-z\\\\. +\\-]{0,96}", "\\{\"op\":[0-9]{1,3},\"d\":.{0,40}\\}"]
    ) {
        for enc in ENCODINGS {
            decode_bounded(s.as_bytes(), enc);
        }
    }

}

proptest! {
    #![proptest_config(config(4000))]

    /// Valid frames decode as what they are, and structurally mutated copies
    /// (truncated, flipped, spliced, cut, repeated) decode to Ok or Err.
    #[test]
    fn mutated_valid_frames_never_panic(
        (op, frame) in valid_frame_with_extras(),
        ids_as_strings in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        for enc in ENCODINGS {
            let mut frame = frame.clone();
            if enc == Encoding::Json && ids_as_strings {
                stringify_ids(&mut frame);
            }
            let mut bytes = encode(&frame, enc);
            let intact = decode_bounded(&bytes, enc);
            prop_assert_eq!(intact.op, Some(op), "{:?} {}", enc, frame);
            prop_assert!(intact.accepted[slot(op)], "{:?} d refused: {}", enc, frame);
            for m in &mutations {
                mutate(&mut bytes, m);
                decode_bounded(&bytes, enc);
            }
        }
    }

    /// A field (or all of `d`, or the op) replaced by a value of any type:
    /// never a panic, and both encodings accept exactly the same frames.
    #[test]
    fn wrong_types_are_refused_alike_in_both_encodings(
        (_, frame) in valid_frame(),
        field in any::<Index>(),
        replacement in json_value(),
        target in 0..3u8,
    ) {
        let mut frame = frame;
        match target {
            0 => frame["op"] = replacement,
            1 => frame["d"] = replacement,
            _ => {
                if let Some(d) = frame["d"].as_object_mut() {
                    let keys: Vec<String> = d.keys().cloned().collect();
                    if !keys.is_empty() {
                        d.insert(keys[field.index(keys.len())].clone(), replacement);
                    }
                } else {
                    frame["d"] = replacement;
                }
            }
        }
        // Enum variant indexes (`status: 1`) and positional arrays are refused
        // by both decoders, so there is no exception to make.
        let mp = decode_bounded(&encode(&frame, Encoding::MsgPack), Encoding::MsgPack);
        let js = decode_bounded(&encode(&frame, Encoding::Json), Encoding::Json);
        prop_assert_eq!(mp, js, "{}", frame);
    }
}

#[test]
fn wrong_types_in_every_field_are_refused() {
    // Each field of each command, given each wrong type, is refused by that
    // command's decoder (the ERROR frame the session answers with).
    let frames = [
        (Op::Identify, json!({"token": "t", "presence": "online"})),
        (Op::PresenceUpdate, json!({"status": "idle"})),
        (Op::Resume, json!({"token": "t", "session_id": "s", "seq": 5})),
        (Op::RequestGuildMembers, json!({"guild_id": 1, "limit": 5, "after": 2, "presences": true, "nonce": "n"})),
        (Op::SendMessage, json!({"channel_id": 1, "content": "hi", "nonce": "n"})),
        (Op::Typing, json!({"channel_id": 1})),
    ];
    let wrong = [json!([1]), json!({"a": 1}), json!(-1), json!(1.5), json!(true), json!("not-a-number-or-status")];
    let mut refused = 0;
    for (op, d) in frames {
        for enc in ENCODINGS {
            let ok = encode(&json!({"op": op as u8, "d": d}), enc);
            assert!(decode_everything(&ok, enc).accepted[slot(op)], "{op:?} {enc:?} {d}");
            for key in d.as_object().unwrap().keys() {
                for w in &wrong {
                    let mut bad = d.clone();
                    bad[key] = w.clone();
                    // A string is a fine token, nonce or session id; -1 is no id.
                    let fits = matches!(
                        (key.as_str(), w),
                        ("token" | "session_id" | "nonce" | "content", Value::String(_))
                            | ("presences", Value::Bool(_))
                    );
                    let out = decode_everything(&encode(&json!({"op": op as u8, "d": bad}), enc), enc);
                    assert_eq!(out.accepted[slot(op)], fits, "{op:?} {enc:?} {key}={w}");
                    refused += usize::from(!fits);
                }
            }
            // d of the wrong type altogether, or missing.
            for d in [json!(null), json!(7), json!("x"), json!([])] {
                let out = decode_everything(&encode(&json!({"op": op as u8, "d": d}), enc), enc);
                assert!(!out.accepted[slot(op)], "{op:?} {enc:?} d={d}");
            }
            let out = decode_everything(&encode(&json!({"op": op as u8}), enc), enc);
            assert!(!out.accepted[slot(op)], "{op:?} {enc:?} without d");
        }
    }
    assert!(refused > 100, "{refused}");
}

// ---------------------------------------------------------------------------
// (c) Deep nesting, on a small stack.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Array,
    Map,
}

/// Where in a frame the nested value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spot {
    /// The whole frame.
    Frame,
    /// An unknown top-level field of a heartbeat: ignored when shallow enough.
    UnknownField,
    /// A heartbeat's `d`: `decode_op` ignores it; as `Option<u64>` it is wrong.
    HeartbeatD,
    /// An unknown field of SEND_MESSAGE's `d`: ignored when shallow enough.
    UnknownInD,
    /// SEND_MESSAGE's `content`: always the wrong type.
    Content,
}

const SPOTS: [Spot; 5] = [Spot::Frame, Spot::UnknownField, Spot::HeartbeatD, Spot::UnknownInD, Spot::Content];

impl Spot {
    /// Containers around the hole (the frame map, `d`).
    fn outer_depth(self) -> usize {
        match self {
            Spot::Frame => 0,
            Spot::UnknownField | Spot::HeartbeatD => 1,
            Spot::UnknownInD | Spot::Content => 2,
        }
    }

    fn json(self) -> (&'static str, &'static str) {
        match self {
            Spot::Frame => ("", ""),
            Spot::UnknownField => (r#"{"op":1,"d":null,"x":"#, "}"),
            Spot::HeartbeatD => (r#"{"op":1,"d":"#, "}"),
            Spot::UnknownInD => (r#"{"op":40,"d":{"channel_id":"1","content":"hi","x":"#, "}}"),
            Spot::Content => (r#"{"op":40,"d":{"channel_id":"1","content":"#, "}}"),
        }
    }

    /// MessagePack before the hole (the hole is always the last value).
    fn msgpack(self) -> Vec<u8> {
        let mut v = Vec::new();
        let s = |v: &mut Vec<u8>, s: &str| {
            v.push(0xa0 | s.len() as u8);
            v.extend_from_slice(s.as_bytes());
        };
        match self {
            Spot::Frame => {}
            Spot::UnknownField => {
                v.push(0x83);
                s(&mut v, "op");
                v.push(0x01);
                s(&mut v, "d");
                v.push(0xc0);
                s(&mut v, "x");
            }
            Spot::HeartbeatD => {
                v.push(0x82);
                s(&mut v, "op");
                v.push(0x01);
                s(&mut v, "d");
            }
            Spot::UnknownInD | Spot::Content => {
                v.push(0x82);
                s(&mut v, "op");
                v.push(40);
                s(&mut v, "d");
                if self == Spot::UnknownInD {
                    v.push(0x83);
                    s(&mut v, "channel_id");
                    v.push(0x01);
                    s(&mut v, "content");
                    s(&mut v, "hi");
                    s(&mut v, "x");
                } else {
                    v.push(0x82);
                    s(&mut v, "channel_id");
                    v.push(0x01);
                    s(&mut v, "content");
                }
            }
        }
        v
    }

    /// Check what the decoders made of a frame with `layers` of nesting here.
    ///
    /// Too deep for the encoding's limit: every decoder refuses. Otherwise
    /// `decode_op` gives the frame's op, and the decoder the session would
    /// run next accepts `d` exactly when it has the right shape. (Other
    /// decoders are not pinned down: serde's derive is lenient, e.g. it reads
    /// a struct from an array and a missing `Option` field as `None`.)
    fn check(self, layers: usize, enc: Encoding, got: Outcome) -> Result<(), String> {
        // MessagePack refuses nesting deeper than MSGPACK_DEEPEST, frame
        // included. serde_json skips a value nobody reads without recursing
        // (so at any depth, on any stack); its limit of 128 applies only to
        // values it builds, and no command has a field that nests.
        let fits = match enc {
            Encoding::Json => true,
            Encoding::MsgPack => self.outer_depth() + layers <= MSGPACK_DEEPEST,
        };
        let ok = match self {
            _ if !fits => got == REJECTED,
            // A frame must be a map: an array never is, and a map of maps has no op.
            Spot::Frame => got.op.is_none(),
            Spot::UnknownField => got.op == Some(Op::Heartbeat) && got.accepted[slot(Op::Heartbeat)],
            Spot::HeartbeatD => got.op == Some(Op::Heartbeat) && got.accepted[slot(Op::Heartbeat)] == (layers == 0),
            // TYPING's d is {channel_id}: it skips the nested value either way.
            Spot::UnknownInD => {
                got.op == Some(Op::SendMessage) && got.accepted[slot(Op::SendMessage)] && got.accepted[slot(Op::Typing)]
            }
            Spot::Content => {
                got.op == Some(Op::SendMessage)
                    && !got.accepted[slot(Op::SendMessage)]
                    && got.accepted[slot(Op::Typing)]
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{layers} layers at {self:?} in {enc:?} (fits the limit: {fits}): got {got:?}"))
        }
    }

    fn frame(self, layers: &[Layer], enc: Encoding) -> Vec<u8> {
        match enc {
            Encoding::Json => {
                let (pre, post) = self.json();
                let mut v = Vec::with_capacity(pre.len() + post.len() + layers.len() * 5 + 1);
                v.extend_from_slice(pre.as_bytes());
                for l in layers {
                    v.extend_from_slice(if *l == Layer::Array { b"[" } else { br#"{"k":"# });
                }
                v.push(b'0');
                for l in layers.iter().rev() {
                    v.push(if *l == Layer::Array { b']' } else { b'}' });
                }
                v.extend_from_slice(post.as_bytes());
                v
            }
            Encoding::MsgPack => {
                let mut v = self.msgpack();
                for l in layers {
                    v.extend_from_slice(if *l == Layer::Array { &[0x91][..] } else { &[0x81, 0xa1, b'k'][..] });
                }
                v.push(0x00);
                v
            }
        }
    }
}

fn check_nesting(layers: &[Layer]) -> Result<(), String> {
    for spot in SPOTS {
        for enc in ENCODINGS {
            let bytes = spot.frame(layers, enc);
            let got = decode_everything(&bytes, enc);
            spot.check(layers.len(), enc, got)?;
        }
    }
    Ok(())
}

#[test]
fn deep_nesting_is_refused_without_overflowing_a_small_stack() {
    // No wall-clock bound here: on a shared machine it fails by load, not by
    // code. Decoding cost per nesting level is measured by benches/hot_path.rs.
    on_small_stack(|| {
        let mut depths: Vec<usize> = vec![0, 1, 2, 8, 16, 100, 1000, 10_000, 100_000];
        for limit in [MSGPACK_DEEPEST, MAX_DECODE_DEPTH, JSON_DEPTH_LIMIT] {
            depths.extend([limit - 3, limit - 2, limit - 1, limit, limit + 1, limit + 2]);
        }
        for n in depths {
            let shapes: [Vec<Layer>; 3] = [
                vec![Layer::Array; n],
                vec![Layer::Map; n],
                (0..n).map(|i| if i % 2 == 0 { Layer::Map } else { Layer::Array }).collect(),
            ];
            for layers in &shapes {
                check_nesting(layers).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    });
}

proptest! {
    #![proptest_config(config(300))]

    /// Random mixes of arrays and maps, up to a few times the limits.
    #[test]
    fn random_nesting_is_bounded_on_a_small_stack(
        layers in prop::collection::vec(prop_oneof![Just(Layer::Array), Just(Layer::Map)], 0..400),
    ) {
        let r = on_small_stack(move || check_nesting(&layers));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

// ---------------------------------------------------------------------------
// (d) Huge declared lengths.
// ---------------------------------------------------------------------------

/// A MessagePack header declaring `len` elements/bytes.
fn huge_header(kind: u8, len: u32) -> Vec<u8> {
    let mut v = vec![kind];
    match kind {
        0xdc | 0xde | 0xda | 0xc5 => v.extend_from_slice(&(len.min(u32::from(u16::MAX)) as u16).to_be_bytes()),
        0xd9 | 0xc4 => v.push(len.min(255) as u8),
        0xc7 => v.extend_from_slice(&[len.min(255) as u8, 0x01]),
        0xc8 => v.extend_from_slice(&(len.min(u32::from(u16::MAX)) as u16).to_be_bytes()),
        _ => v.extend_from_slice(&len.to_be_bytes()),
    }
    if kind == 0xc8 || kind == 0xc9 {
        v.push(0x01); // ext type
    }
    v
}

/// array32, map32, str32, bin32, ext32, and their 8/16-bit forms.
const LENGTH_HEADERS: [u8; 13] = [0xdd, 0xdf, 0xdb, 0xc6, 0xc9, 0xdc, 0xde, 0xda, 0xc5, 0xc8, 0xd9, 0xc4, 0xc7];

/// Every decoder refuses `bytes`, quickly and without a large allocation.
fn refused_cheaply(bytes: &[u8]) -> Result<(), String> {
    let started = Instant::now();
    let out = decode_bounded(bytes, Encoding::MsgPack);
    let took = started.elapsed();
    if out != REJECTED {
        return Err(format!("accepted {out:?}: {bytes:02x?}"));
    }
    // Generous: catches decoding that walks or fills a 4 GiB declared length
    // (seconds to minutes), not load on a shared machine.
    if took > Duration::from_secs(5) {
        return Err(format!("took {took:?}: {bytes:02x?}"));
    }
    Ok(())
}

#[test]
fn huge_declared_lengths_are_refused_quickly_without_allocating() {
    let started = Instant::now();
    let mut cases = 0;
    for kind in LENGTH_HEADERS {
        for spot in SPOTS {
            for tail in [&[][..], &[0x01, 0x02, 0x03][..], &[0xc0; 64][..]] {
                let mut bytes = spot.msgpack();
                bytes.extend(huge_header(kind, u32::MAX));
                bytes.extend_from_slice(tail);
                refused_cheaply(&bytes).unwrap_or_else(|e| panic!("{kind:#04x} at {spot:?}: {e}"));
                cases += 1;
            }
        }
        // As the key of the op field, and as the op's value.
        let mut key = vec![0x81];
        key.extend(huge_header(kind, u32::MAX));
        key.extend_from_slice(b"op\x01");
        refused_cheaply(&key).unwrap_or_else(|e| panic!("{kind:#04x} as a key: {e}"));
        let mut value = vec![0x81, 0xa2, b'o', b'p'];
        value.extend(huge_header(kind, u32::MAX));
        refused_cheaply(&value).unwrap_or_else(|e| panic!("{kind:#04x} as op: {e}"));
        cases += 2;
    }
    assert_eq!(cases, LENGTH_HEADERS.len() * (SPOTS.len() * 3 + 2));
    assert!(started.elapsed() < Duration::from_secs(30), "{cases} huge headers took {:?}", started.elapsed());
}

proptest! {
    #![proptest_config(config(5000))]

    /// Any large declared length, anywhere a value may start, with a short
    /// random tail: refused, fast, with no allocation sized by the header.
    #[test]
    fn random_huge_lengths_are_refused_cheaply(
        kind in prop::sample::select(&LENGTH_HEADERS[..]),
        len in prop_oneof![Just(u32::MAX), (1u32 << 16)..=u32::MAX],
        spot in prop::sample::select(&SPOTS[..]),
        nest in 0..4usize,
        tail in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut bytes = spot.msgpack();
        bytes.extend(std::iter::repeat_n(0x91, nest));
        bytes.extend(huge_header(kind, len));
        // Fewer bytes follow than the smallest header here could declare.
        bytes.extend(&tail);
        let r = refused_cheaply(&bytes);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

// ---------------------------------------------------------------------------
// (e) Round trips: what a client encodes is what the server decodes.
// ---------------------------------------------------------------------------

/// A client's command in its two encodings: ids as strings or integers in
/// JSON, integers or strings in MessagePack (all four are accepted).
fn client_encodings(op: Op, d: &Value) -> Vec<(Encoding, Vec<u8>)> {
    let frame = json!({"op": op as u8, "d": d});
    let mut strings = frame.clone();
    stringify_ids(&mut strings);
    vec![
        (Encoding::Json, encode(&strings, Encoding::Json)),
        (Encoding::Json, encode(&frame, Encoding::Json)),
        (Encoding::MsgPack, encode(&frame, Encoding::MsgPack)),
        (Encoding::MsgPack, encode(&strings, Encoding::MsgPack)),
    ]
}

fn decoded<T: serde::de::DeserializeOwned>(op: Op, bytes: &[u8], enc: Encoding) -> T {
    assert_eq!(decode_op(bytes, enc).unwrap(), op);
    decode_data::<T>(bytes, enc, op).unwrap_or_else(|e| panic!("{enc:?}: {e}"))
}

fn status_of(s: &str) -> Status {
    match s {
        "online" => Status::Online,
        "idle" => Status::Idle,
        "dnd" => Status::Dnd,
        _ => Status::Offline,
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn send_message_round_trips(channel_id in any::<u64>(), content in text(), nonce in prop::option::of(text())) {
        let d = json!({"channel_id": channel_id, "content": content, "nonce": nonce});
        for (enc, bytes) in client_encodings(Op::SendMessage, &d) {
            let m: SendMessage = decoded(Op::SendMessage, &bytes, enc);
            prop_assert_eq!(m.channel_id, Id(channel_id));
            prop_assert_eq!(&m.content, &content);
            prop_assert_eq!(&m.nonce, &nonce);
        }
    }

    #[test]
    fn other_commands_round_trip(
        id in any::<u64>(),
        after in prop::option::of(any::<u64>()),
        limit in prop::option::of(any::<u32>()),
        presences in any::<bool>(),
        s in text(),
        nonce in prop::option::of(text()),
        seq in any::<u64>(),
        status in status_name(),
    ) {
        let d = json!({"token": s, "presence": status});
        for (enc, bytes) in client_encodings(Op::Identify, &d) {
            let i: Identify = decoded(Op::Identify, &bytes, enc);
            prop_assert_eq!((i.token.expose(), i.presence), (&s, Some(status_of(&status))));
        }
        let d = json!({"token": s, "session_id": nonce, "seq": seq});
        for (enc, bytes) in client_encodings(Op::Resume, &d) {
            let r = decode_data::<Resume>(&bytes, enc, Op::Resume);
            match &nonce {
                Some(sid) => {
                    let r = r.unwrap();
                    prop_assert_eq!((r.token.expose(), &r.session_id, r.seq), (&s, sid, seq));
                }
                None => prop_assert!(r.is_err(), "a null session_id is refused"),
            }
        }
        for (enc, bytes) in client_encodings(Op::PresenceUpdate, &json!({"status": status})) {
            let p: PresenceUpdate = decoded(Op::PresenceUpdate, &bytes, enc);
            prop_assert_eq!(p.status, status_of(&status));
        }
        let d = json!({"guild_id": id, "limit": limit, "after": after, "presences": presences, "nonce": nonce});
        for (enc, bytes) in client_encodings(Op::RequestGuildMembers, &d) {
            let r: RequestGuildMembers = decoded(Op::RequestGuildMembers, &bytes, enc);
            prop_assert_eq!((r.guild_id, r.limit, r.after, r.presences), (Id(id), limit, after.map(Id), presences));
            prop_assert_eq!(&r.nonce, &nonce);
        }
        for (enc, bytes) in client_encodings(Op::Typing, &json!({"channel_id": id})) {
            let t: Typing = decoded(Op::Typing, &bytes, enc);
            prop_assert_eq!(t.channel_id, Id(id));
        }
        for (enc, bytes) in client_encodings(Op::Heartbeat, &json!(after)) {
            let h: Option<u64> = decoded(Op::Heartbeat, &bytes, enc);
            prop_assert_eq!(h, after);
        }
    }
}

// ---------------------------------------------------------------------------
// (f) Dispatch frames written by hand decode as ordinary frames.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    id: Id,
    content: String,
    nonce: Option<String>,
    mentions: Vec<Id>,
    extra: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Dispatch {
    op: u8,
    d: Payload,
    s: Option<u64>,
    t: Option<String>,
}

/// Event names: real ones, and one long enough for MessagePack's str8 form.
const EVENT_NAMES: [&str; 5] =
    ["MESSAGE_CREATE", "READY", "GUILD_MEMBERS_CHUNK", "X", "AN_EVENT_NAME_LONGER_THAN_THIRTY_ONE_BYTES"];

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn dispatch_frames_decode_back(
        id in any::<u64>(),
        content in text(),
        nonce in prop::option::of(text()),
        mentions in prop::collection::vec(any::<u64>(), 0..4),
        extra in prop::collection::btree_map(text(), text(), 0..3),
        seq in any::<u64>(),
        name in prop::sample::select(&EVENT_NAMES[..]),
    ) {
        let payload = Payload { id: Id(id), content, nonce, mentions: mentions.into_iter().map(Id).collect(), extra };
        let ev = SharedEvent::new(name, &payload, true);
        let mp = ev.frame(seq, Encoding::MsgPack);
        let js = ev.frame(seq, Encoding::Json);
        for decoded in [
            rmp_serde::from_slice::<Dispatch>(&mp).map_err(|e| e.to_string()),
            msgpack_from_slice::<Dispatch>(&mp),
            serde_json::from_slice::<Dispatch>(&js).map_err(|e| e.to_string()),
        ] {
            let f = decoded.map_err(TestCaseError::fail)?;
            prop_assert_eq!((f.op, f.s, f.t.as_deref()), (0, Some(seq), Some(name)));
            prop_assert_eq!(&f.d, &payload);
        }
        // Exactly the four fields, and JSON is valid UTF-8 with the id as a string.
        for v in [rmp_serde::from_slice::<Value>(&mp).unwrap(), serde_json::from_slice::<Value>(&js).unwrap()] {
            let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            keys.sort();
            prop_assert_eq!(keys, ["d", "op", "s", "t"]);
        }
        let text = std::str::from_utf8(&js).unwrap();
        let quoted_id = format!("\"id\":\"{id}\"");
        prop_assert!(text.contains(&quoted_id));
    }
}

// ---------------------------------------------------------------------------
// Validation: never panics, and agrees with the documented bounds.
// ---------------------------------------------------------------------------

/// Strings around every bound: lengths near it in 1-, 2-, 3- and 4-byte
/// characters, wrapped in ASCII and Unicode whitespace, with stray controls.
fn near_bounds() -> impl Strategy<Value = String> {
    let bounds = [
        0,
        1,
        MIN_USERNAME_CHARS,
        MAX_USERNAME_CHARS,
        MIN_PASSWORD_CHARS,
        MAX_NONCE_BYTES,
        MAX_NAME_CHARS,
        MAX_PASSWORD_CHARS,
        MAX_TOPIC_CHARS,
        MAX_MESSAGE_CHARS,
    ];
    let unit =
        prop::sample::select(&["a", "Z", "7", "_", ".", "-", "é", "ß", "中", "😀", " ", "x\u{7}", "\u{200b}"][..]);
    let pad = prop::sample::select(&["", " ", "\t", "\n", "\u{a0}", "\u{3000}", "\u{2028}", " \r\n "][..]);
    (prop::sample::select(bounds.to_vec()), -2i64..=2, unit, pad.clone(), pad).prop_map(|(b, delta, unit, l, r)| {
        let n = usize::try_from(b as i64 + delta).unwrap_or(0);
        format!("{l}{}{r}", unit.repeat(n))
    })
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![text(), near_bounds()]
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn validation_never_panics_and_follows_the_documented_bounds(s in any_input()) {
        let trimmed = s.trim();
        let chars = trimmed.chars().count();

        // Content: trimmed, 1–4000 characters (not bytes).
        let c = validate::content(&s);
        prop_assert_eq!(c.is_ok(), (MIN_MESSAGE_CHARS..=MAX_MESSAGE_CHARS).contains(&chars));
        if let Ok(c) = c {
            prop_assert_eq!(c, trimmed);
        }

        // Nonce: at most 64 bytes (the one limit in bytes); absent is fine.
        let n = validate::nonce(Some(s.clone()));
        prop_assert_eq!(n.is_ok(), s.len() <= MAX_NONCE_BYTES);
        if let Ok(n) = n {
            prop_assert_eq!(n.as_deref(), Some(s.as_str()));
        }
        prop_assert_eq!(validate::nonce(None), Ok(None));

        // Guild, channel and role names: trimmed, NFC-normalised, 1–100
        // characters; controls and invisible characters refused; plain text
        // within bounds accepted as it is.
        let nfc: String = trimmed.nfc().collect();
        let nfc_chars = nfc.chars().count();
        let plain = nfc.chars().all(|c| {
            (c.is_alphanumeric()
                && !unicode_normalization::char::is_combining_mark(c)
                && !matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'))
                || c.is_ascii_punctuation()
                || c == ' '
                || c == '😀'
        });
        let hidden = |newlines: bool| {
            nfc.chars().any(|c| {
                (c.is_control() && !(newlines && c == '\n'))
                    || matches!(c, '\u{200B}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{202E}')
            })
        };
        // What every shown text must satisfy, given its bounds and whether line feeds are allowed.
        let shown = |got: &Result<String, validate::Invalid>, max: usize, newlines: bool| -> Result<(), TestCaseError> {
            let within = (1..=max).contains(&nfc_chars);
            if let Ok(v) = got {
                prop_assert_eq!(v, &nfc);
                prop_assert!(within && !hidden(newlines));
            }
            if plain && within {
                prop_assert!(got.is_ok(), "plain text refused: {:?}", got);
            }
            Ok(())
        };
        shown(&validate::name("name", &s), MAX_NAME_CHARS, false)?;

        // Usernames: not trimmed, 2–32 characters, letters, digits, '_', '.', '-'.
        let raw_chars = s.chars().count();
        let allowed = s.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        let u = validate::username(&s);
        prop_assert_eq!(u.is_ok(), (MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&raw_chars) && allowed);
        if let Ok(u) = u {
            prop_assert_eq!(&u, &s);
            prop_assert_eq!(validate::username_key(&u), s.to_lowercase());
        }

        // Passwords: not trimmed, 8–256 characters.
        prop_assert_eq!(
            validate::password(&s).is_ok(),
            (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&raw_chars)
        );

        // Display names: the same rules at 32 characters; empty means none.
        match validate::display_name("display_name", Some(&s)) {
            Ok(None) => prop_assert!(trimmed.is_empty()),
            Ok(Some(v)) => shown(&Ok(v), MAX_DISPLAY_NAME_CHARS, false)?,
            Err(e) => {
                prop_assert!(!trimmed.is_empty());
                shown(&Err(e), MAX_DISPLAY_NAME_CHARS, false)?;
            }
        }

        // Topics: the same at 1024 characters, line feeds allowed; empty means none.
        match validate::topic(Some(&s)) {
            Ok(None) => prop_assert!(trimmed.is_empty()),
            Ok(Some(v)) => shown(&Ok(v), MAX_TOPIC_CHARS, true)?,
            Err(e) => {
                prop_assert!(!trimmed.is_empty());
                shown(&Err(e), MAX_TOPIC_CHARS, true)?;
            }
        }
    }
}
