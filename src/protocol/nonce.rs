//! Reading `d.nonce` from a client frame that may not decode as its command.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Walks a frame map to `d.nonce` and stores it when it is a string. The walk
/// may fail anywhere (it gives up at the first thing it cannot read); a nonce
/// seen before that point is kept.
pub(super) struct InFrame<'a>(pub &'a mut Option<String>);

impl<'de> DeserializeSeed<'de> for InFrame<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(FieldIn { key: "d", found: self.0, inner: true })
    }
}

/// Finds `key` in a map: `d` in the frame (`inner`), then `nonce` in `d`.
struct FieldIn<'a> {
    key: &'static str,
    found: &'a mut Option<String>,
    inner: bool,
}

impl<'de> Visitor<'de> for FieldIn<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != self.key {
                map.next_value::<IgnoredAny>()?;
            } else if self.inner {
                let nested = FieldIn { key: "nonce", found: &mut *self.found, inner: false };
                map.next_value_seed(Nested(nested))?;
            } else if self.found.is_none() {
                *self.found = Some(map.next_value::<String>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `d` as a map (anything else has no nonce: an error ends the walk).
struct Nested<'a>(FieldIn<'a>);

impl<'de> DeserializeSeed<'de> for Nested<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::codec::{read_nonce, Encoding};
    use serde_json::json;

    fn both(frame: serde_json::Value) -> [Option<String>; 2] {
        let mp = rmp_serde::to_vec_named(&frame).unwrap();
        [read_nonce(&mp, Encoding::MsgPack), read_nonce(frame.to_string().as_bytes(), Encoding::Json)]
    }

    #[test]
    fn the_nonce_is_read_whatever_else_is_wrong() {
        let frames = [
            json!({"op": 40, "d": {"channel_id": [], "content": 5, "nonce": "n1"}}),
            json!({"d": {"nonce": "n1", "content": {"x": 1}}, "op": "forty"}),
            json!({"op": 40, "d": {"content": 1, "nonce": "n1", "channel_id": null}}),
        ];
        for f in frames {
            assert_eq!(both(f.clone()), [Some("n1".to_string()), Some("n1".to_string())], "{f}");
        }
    }

    #[test]
    fn no_string_nonce_no_nonce() {
        for f in [
            json!({"op": 40, "d": {"nonce": 5}}),
            json!({"op": 40, "d": ["n1"]}),
            json!({"op": 40, "nonce": "n1", "d": {}}),
            json!({"op": 40}),
            json!(["n1"]),
        ] {
            assert_eq!(both(f.clone()), [None, None], "{f}");
        }
        assert_eq!(read_nonce(b"{\"op\":40,\"d\":{\"nonce\":\"n1\"", Encoding::Json), Some("n1".into()), "cut short");
        assert_eq!(read_nonce(b"\xff\x00", Encoding::MsgPack), None);
    }
}
