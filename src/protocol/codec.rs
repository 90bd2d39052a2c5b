//! Gateway frame encoding and decoding, MessagePack and JSON, from one schema.
//!
//! Server dispatches are built as a small per-session prefix (`op`, `s`, `t`)
//! in front of payload bytes that were encoded once for every recipient
//! ([`SharedEvent`]). Client frames are decoded in two passes over the same
//! bytes: first only `op`, then `d` as the type that op expects, so no
//! intermediate value tree is built.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::limits::MAX_DECODE_DEPTH;
use super::nonce;
use super::op::Op;
use super::strict::Strict;

/// The wire encoding a connection chose with `?encoding=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// MessagePack in binary WebSocket frames (default).
    MsgPack,
    /// JSON in text WebSocket frames; 64-bit ids are strings.
    Json,
}

impl Encoding {
    /// Parse the `encoding` query parameter value.
    pub fn from_query(v: &str) -> Option<Encoding> {
        match v {
            "msgpack" | "messagepack" => Some(Encoding::MsgPack),
            "json" => Some(Encoding::Json),
            _ => None,
        }
    }
}

/// Why a client frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not valid MessagePack/JSON, or not a map with an integer `op`.
    #[error("frame is not a valid {0} object with an integer op: {1}")]
    Malformed(&'static str, String),
    /// `op` is not a known client op.
    #[error("unknown op {0}")]
    UnknownOp(u64),
    /// `d` does not have the shape the op needs.
    #[error("invalid d for {op}: {detail}")]
    InvalidData {
        /// The op whose payload was wrong.
        op: &'static str,
        /// What was wrong, from the decoder.
        detail: String,
    },
}

/// The `op` of a frame. Only a map is a frame: serde's derive would also
/// accept `[op, d]` arrays, which the protocol does not define.
struct Header {
    op: u64,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Header;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a frame object {op, d}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut op = None;
                while let Some(IsOp(is_op)) = map.next_key()? {
                    if is_op {
                        op = Some(map.next_value::<u64>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                op.map(|op| Header { op }).ok_or_else(|| serde::de::Error::missing_field("op"))
            }
        }
        d.deserialize_map(V)
    }
}

/// Whether a frame key is `op`, read without allocating a copy of the key.
struct IsOp(bool);

impl<'de> Deserialize<'de> for IsOp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IsOp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IsOp, E> {
                Ok(IsOp(v == "op"))
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
struct Body<T> {
    d: T,
}

fn enc_name(enc: Encoding) -> &'static str {
    match enc {
        Encoding::MsgPack => "MessagePack",
        Encoding::Json => "JSON",
    }
}

/// A MessagePack deserializer over `bytes` with nesting bounded by
/// `MAX_DECODE_DEPTH` (rmp-serde's default of 1024 recurses deep enough to
/// overflow a worker's stack). It reads the slice in place (strings are
/// borrowed, not read byte by byte through `io::Read`); bytes after the value
/// are found by [`super::msgpack_len::value_len`].
fn msgpack_de(bytes: &[u8]) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    // rmp-serde refuses the n-th level for set_max_depth(n): allow MAX_DECODE_DEPTH levels.
    de.set_max_depth(MAX_DECODE_DEPTH + 1);
    de
}

/// Decode one complete document with `decode`, which receives the deserializer
/// of the encoding. Bytes after the document are refused in both encodings.
macro_rules! decode_document {
    ($bytes:expr, $enc:expr, |$de:ident| $decode:expr) => {
        match $enc {
            Encoding::MsgPack => {
                let mut de = msgpack_de($bytes);
                let v = {
                    let $de = &mut de;
                    $decode.map_err(|e| e.to_string())?
                };
                let end = super::msgpack_len::value_len($bytes).unwrap_or($bytes.len());
                if end < $bytes.len() {
                    return Err(format!("{} bytes after the end of the MessagePack value", $bytes.len() - end));
                }
                Ok(v)
            }
            Encoding::Json => {
                let mut de = serde_json::Deserializer::from_slice($bytes);
                let v = {
                    let $de = &mut de;
                    $decode.map_err(|e| e.to_string())?
                };
                de.end().map_err(|e| e.to_string())?;
                Ok(v)
            }
        }
    };
}

fn from_slice<T: DeserializeOwned>(bytes: &[u8], enc: Encoding) -> Result<T, String> {
    decode_document!(bytes, enc, |de| T::deserialize(de))
}

/// Decode client input (a gateway frame, a REST body) as `T`, strictly: only
/// what the docs allow, the same documents in both encodings
/// ([`Strict`](super::strict::Strict)), and an error that names the field
/// at fault (`d.content: invalid type: ...`).
///
/// Tracking the path costs on every field, so a document is first decoded
/// without it; only one that fails is decoded again with the path tracked
/// (decoding is deterministic: it fails at the same place) to name the field.
pub fn decode_strict<T: DeserializeOwned>(bytes: &[u8], enc: Encoding) -> Result<T, String> {
    let fast: Result<T, String> = (|| decode_document!(bytes, enc, |de| T::deserialize(Strict(de))))();
    fast.or_else(|_| decode_document!(bytes, enc, |de| serde_path_to_error::deserialize(Strict(de))))
}

/// Decode MessagePack with nesting bounded by `MAX_DECODE_DEPTH` and nothing after the value.
pub fn msgpack_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    from_slice(bytes, Encoding::MsgPack)
}

/// Read the op of a client frame. Fails if the frame is not a map with an integer
/// `op` or if the op is not one a client may send.
pub fn decode_op(bytes: &[u8], enc: Encoding) -> Result<Op, DecodeError> {
    let h: Header = from_slice(bytes, enc).map_err(|e| DecodeError::Malformed(enc_name(enc), e))?;
    u8::try_from(h.op).ok().and_then(Op::from_u8).filter(|op| op.client_may_send()).ok_or(DecodeError::UnknownOp(h.op))
}

/// Decode the `d` of a client frame as `T`, strictly. Unknown fields are ignored.
pub fn decode_data<T: DeserializeOwned>(bytes: &[u8], enc: Encoding, op: Op) -> Result<T, DecodeError> {
    decode_strict::<Body<T>>(bytes, enc)
        .map(|b| b.d)
        .map_err(|detail| DecodeError::InvalidData { op: op.name(), detail })
}

/// The `d.nonce` of a client frame, if `d` is a map whose `nonce` is a
/// string, read leniently: whatever else the frame holds (a field of the
/// wrong type, a value that does not decode) does not hide it. An ERROR
/// frame carries it so the client can tell which command failed.
pub fn read_nonce(bytes: &[u8], enc: Encoding) -> Option<String> {
    let mut found = None;
    // A decode error after the nonce was seen does not matter.
    let _ = match enc {
        Encoding::MsgPack => {
            serde::de::DeserializeSeed::deserialize(nonce::InFrame(&mut found), &mut msgpack_de(bytes))
                .map_err(|e| e.to_string())
        }
        Encoding::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            serde::de::DeserializeSeed::deserialize(nonce::InFrame(&mut found), &mut de).map_err(|e| e.to_string())
        }
    };
    found
}

/// Encode a payload once in the given encoding.
pub fn encode_payload<T: Serialize + ?Sized>(value: &T, enc: Encoding) -> Bytes {
    match enc {
        Encoding::MsgPack => match rmp_serde::to_vec_named(value) {
            Ok(v) => Bytes::from(v),
            // Our own types always serialize; an error here is a bug, not input.
            Err(e) => {
                tracing::error!(error = %e, "msgpack encode failed");
                Bytes::from_static(&[0xc0])
            }
        },
        Encoding::Json => match serde_json::to_vec(value) {
            Ok(v) => Bytes::from(v),
            Err(e) => {
                tracing::error!(error = %e, "json encode failed");
                Bytes::from_static(b"null")
            }
        },
    }
}

#[derive(Serialize)]
struct OutFrame<'a, T: Serialize + ?Sized> {
    op: Op,
    d: &'a T,
    s: Option<u64>,
    t: Option<&'a str>,
}

/// Encode a non-dispatch server frame (`s` and `t` are null).
pub fn encode_frame<T: Serialize + ?Sized>(op: Op, d: &T, enc: Encoding) -> Bytes {
    encode_payload(&OutFrame { op, d, s: None, t: None }, enc)
}

/// One event's payload, encoded once and shared by every recipient.
#[derive(Debug)]
pub struct SharedEvent {
    /// Event name (`t`).
    pub name: &'static str,
    /// The `d` payload as MessagePack.
    pub msgpack: Bytes,
    /// The `d` payload as JSON, present when some recipient asked for JSON.
    pub json: Option<Bytes>,
}

impl SharedEvent {
    /// Encode `d` once per needed encoding.
    pub fn new<T: Serialize + ?Sized>(name: &'static str, d: &T, with_json: bool) -> Arc<Self> {
        Arc::new(SharedEvent {
            name,
            msgpack: encode_payload(d, Encoding::MsgPack),
            json: with_json.then(|| encode_payload(d, Encoding::Json)),
        })
    }

    /// Payload size in the given encoding (for queue accounting).
    pub fn len(&self, enc: Encoding) -> usize {
        match enc {
            Encoding::MsgPack => self.msgpack.len(),
            Encoding::Json => self.json.as_ref().map_or(0, Bytes::len),
        }
    }

    /// Whether the payload for `enc` is empty (JSON was not encoded).
    pub fn is_empty(&self, enc: Encoding) -> bool {
        self.len(enc) == 0
    }

    /// The complete dispatch frame for one session: its prefix, then the shared payload.
    pub fn frame(&self, seq: u64, enc: Encoding) -> Bytes {
        match enc {
            Encoding::MsgPack => dispatch_msgpack(self.name, seq, &self.msgpack),
            Encoding::Json => {
                let d = self.json.as_deref().unwrap_or(b"null");
                dispatch_json(self.name, seq, d)
            }
        }
    }
}

/// `{"op":0,"d":<d>,"s":seq,"t":name}` in MessagePack, written by hand so the
/// payload is copied, not re-encoded.
fn dispatch_msgpack(name: &str, seq: u64, d: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(24 + name.len() + d.len());
    buf.put_u8(0x84); // fixmap, 4 entries
    put_fixstr(&mut buf, "op");
    buf.put_u8(0x00);
    put_fixstr(&mut buf, "d");
    buf.put_slice(d);
    put_fixstr(&mut buf, "s");
    buf.put_u8(0xcf); // uint64
    buf.put_u64(seq);
    put_fixstr(&mut buf, "t");
    if name.len() < 32 {
        put_fixstr(&mut buf, name);
    } else {
        buf.put_u8(0xd9); // str8; event names are short
        buf.put_u8(u8::try_from(name.len()).unwrap_or(u8::MAX));
        buf.put_slice(&name.as_bytes()[..name.len().min(255)]);
    }
    buf.freeze()
}

fn put_fixstr(buf: &mut BytesMut, s: &str) {
    debug_assert!(s.len() < 32);
    buf.put_u8(0xa0 | (s.len() as u8 & 0x1f));
    buf.put_slice(s.as_bytes());
}

fn dispatch_json(name: &str, seq: u64, d: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(40 + name.len() + d.len());
    buf.put_slice(b"{\"op\":0,\"d\":");
    buf.put_slice(d);
    buf.put_slice(b",\"s\":");
    buf.put_slice(seq.to_string().as_bytes());
    buf.put_slice(b",\"t\":\"");
    buf.put_slice(name.as_bytes()); // event names are plain ASCII identifiers
    buf.put_slice(b"\"}");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::Id;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sample {
        id: Id,
        content: String,
    }

    #[derive(Deserialize, Debug)]
    struct Decoded {
        op: u8,
        d: Sample,
        s: Option<u64>,
        t: Option<String>,
    }

    #[test]
    fn shared_dispatch_decodes_as_a_normal_frame_in_both_encodings() {
        let sample = Sample { id: Id(u64::MAX - 7), content: "héllo".into() };
        let ev = SharedEvent::new("MESSAGE_CREATE", &sample, true);
        let mp: Decoded = rmp_serde::from_slice(&ev.frame(42, Encoding::MsgPack)).unwrap();
        assert_eq!((mp.op, mp.s, mp.t.as_deref()), (0, Some(42), Some("MESSAGE_CREATE")));
        assert_eq!(mp.d, sample);
        let js_bytes = ev.frame(u64::MAX, Encoding::Json);
        let js: Decoded = serde_json::from_slice(&js_bytes).unwrap();
        assert_eq!((js.op, js.s), (0, Some(u64::MAX)));
        assert_eq!(js.d, sample);
        let text = std::str::from_utf8(&js_bytes).unwrap();
        assert!(text.contains("\"id\":\"18446744073709551608\""), "{text}");
    }

    #[test]
    fn json_is_encoded_only_when_asked() {
        let ev = SharedEvent::new("X", &1u8, false);
        assert!(ev.json.is_none());
        assert!(ev.is_empty(Encoding::Json));
    }

    #[test]
    fn decode_op_rejects_garbage_and_server_ops() {
        assert!(matches!(decode_op(b"{", Encoding::Json), Err(DecodeError::Malformed(..))));
        assert!(matches!(decode_op(b"[1]", Encoding::Json), Err(DecodeError::Malformed(..))));
        assert!(matches!(decode_op(b"{\"op\":\"1\"}", Encoding::Json), Err(DecodeError::Malformed(..))));
        assert!(matches!(decode_op(b"{\"op\":10}", Encoding::Json), Err(DecodeError::UnknownOp(10))));
        assert!(matches!(decode_op(b"{\"op\":99999}", Encoding::Json), Err(DecodeError::UnknownOp(99999))));
        assert_eq!(decode_op(b"{\"op\":1,\"d\":null}", Encoding::Json).unwrap(), Op::Heartbeat);
        assert!(matches!(decode_op(&[0xc1, 0xff], Encoding::MsgPack), Err(DecodeError::Malformed(..))));
        let mp = rmp_serde::to_vec_named(&serde_json::json!({"op": 2, "d": {"token": "x"}})).unwrap();
        assert_eq!(decode_op(&mp, Encoding::MsgPack).unwrap(), Op::Identify);
    }

    #[test]
    fn decode_data_reports_wrong_types() {
        #[derive(Deserialize, Debug)]
        struct Ident {
            #[allow(dead_code)]
            token: String,
        }
        let bad = br#"{"op":2,"d":{"token":5}}"#;
        let err = decode_data::<Ident>(bad, Encoding::Json, Op::Identify).unwrap_err();
        assert!(err.to_string().contains("IDENTIFY"), "{err}");
        let missing = br#"{"op":2}"#;
        assert!(decode_data::<Ident>(missing, Encoding::Json, Op::Identify).is_err());
        let extra = br#"{"op":2,"d":{"token":"t","unknown":[1,2]},"zzz":1}"#;
        assert!(decode_data::<Ident>(extra, Encoding::Json, Op::Identify).is_ok());
    }

    #[test]
    fn non_dispatch_frames_have_null_s_and_t() {
        let b = encode_frame(Op::Hello, &serde_json::json!({"heartbeat_interval": 5}), Encoding::Json);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["op"], 10);
        assert!(v["s"].is_null() && v["t"].is_null());
    }
}
