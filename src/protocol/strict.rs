//! Strict decoding of client input: a wrapper around any serde deserializer
//! that holds JSON and MessagePack to exactly the documents the docs allow.
//!
//! serde's derive is lenient in ways the protocol does not define, and the two
//! formats differ in them: a struct may arrive as a positional array, a struct
//! field may be named by its index, an enum by its variant index (MessagePack
//! only) or as a `{variant: null}` map. A client written with a
//! struct-as-array serializer would then work against Hearth and nothing else.
//! [`Strict`] refuses all of that in one place, for every type decoded from a
//! client, by wrapping the deserializer at every level of nesting:
//!
//! * a struct must be a map (object) with string keys;
//! * a struct field and an enum variant must be named by a string;
//! * an enum must be a plain string naming a unit variant.
//!
//! Sequences that are sequences (`Vec<Id>`, tuples) are unaffected.

use std::fmt;

use crate::model::ids::ID_NEWTYPE;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, Visitor};

/// What the error says a struct must be, in both encodings.
const EXPECTED_OBJECT: &str = "an object with named fields";

/// A deserializer that decodes like `D`, but strictly (see the module docs).
pub struct Strict<D>(pub D);

/// Forward a `deserialize_*` call to the inner deserializer, wrapping the visitor.
macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(StrictVisitor { inner: visitor, object: false })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, StrictVisitor { inner: visitor, object: false })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        if name == ID_NEWTYPE {
            // In a client document an id may be an unsigned integer or a decimal string.
            return self.0.deserialize_any(StrictVisitor { inner: visitor, object: false });
        }
        self.0.deserialize_newtype_struct(name, StrictVisitor { inner: visitor, object: false })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, StrictVisitor { inner: visitor, object: false })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, StrictVisitor { inner: visitor, object: false })
    }

    /// Only a map: never the positional array serde's derive would also take.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(StrictVisitor { inner: visitor, object: true })
    }

    /// Only a string naming a unit variant: never a variant index or a `{variant: data}` map.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(EnumVisitor(visitor))
    }

    /// Only a string: derive's field visitors also take an index or bytes.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(NameVisitor(visitor))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// Passes every value to the wrapped visitor, keeping nested values strict.
struct StrictVisitor<V> {
    inner: V,
    /// A struct is expected: a sequence is refused.
    object: bool,
}

/// Forward `visit_*` calls of plain values unchanged.
macro_rules! forward_visits {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.object {
            f.write_str(EXPECTED_OBJECT)
        } else {
            self.inner.expecting(f)
        }
    }

    forward_visits! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.object {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.inner.visit_seq(StrictSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(StrictMap(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _data: A) -> Result<Self::Value, A::Error> {
        // Only `deserialize_enum` produces enums, and ours never forwards one here.
        Err(de::Error::invalid_type(Unexpected::Enum, &self))
    }
}

/// Takes only a string, and hands it to an enum visitor as a unit variant name.
struct EnumVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.visit_enum(de::value::StrDeserializer::<E>::new(v))
    }
}

/// Takes only a string as a struct field name.
struct NameVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for NameVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name (string)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.0.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.0.visit_string(v)
    }
}

/// Decodes a nested value through [`Strict`].
struct StrictSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

struct StrictSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct StrictMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(StrictSeed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::model::{Id, Status};
    use crate::protocol::codec::{decode_strict, Encoding};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        status: Status,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: String,
        ids: Vec<Id>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    /// `value` encoded as MessagePack (maps keep their named keys).
    fn mp(value: &serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec_named(value).unwrap()
    }

    fn both<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> [Result<T, String>; 2] {
        [
            decode_strict::<T>(&mp(&value), Encoding::MsgPack),
            decode_strict::<T>(value.to_string().as_bytes(), Encoding::Json),
        ]
    }

    #[test]
    fn objects_decode_in_both_encodings() {
        let v = serde_json::json!({"name": "x", "ids": [1, "2"], "inner": {"status": "idle"}, "extra": [1]});
        for r in both::<Outer>(v) {
            let o = r.unwrap();
            assert_eq!(o.ids, [Id(1), Id(2)]);
            assert_eq!(o.inner, Some(Inner { status: Status::Idle }));
        }
    }

    #[test]
    fn positional_arrays_are_refused_at_every_level() {
        for v in [serde_json::json!(["x", []]), serde_json::json!({"name": "x", "ids": [], "inner": ["idle"]})] {
            for r in both::<Outer>(v.clone()) {
                let e = r.unwrap_err();
                assert!(e.contains("expected an object with named fields"), "{v}: {e}");
            }
        }
    }

    #[test]
    fn enums_are_strings_only() {
        for bad in [serde_json::json!(1), serde_json::json!({"idle": null}), serde_json::json!(["idle"])] {
            for r in both::<Inner>(serde_json::json!({ "status": bad })) {
                let e = r.unwrap_err();
                assert!(e.starts_with("status: "), "{bad}: {e}");
            }
        }
        for r in both::<Inner>(serde_json::json!({"status": "dnd"})) {
            assert_eq!(r.unwrap().status, Status::Dnd);
        }
    }

    #[test]
    fn fields_are_named_by_strings_only() {
        // {0: "idle"}: field 0 by index, which MessagePack can express.
        let by_index = [0x81, 0x00, 0xa4, b'i', b'd', b'l', b'e'];
        let e = decode_strict::<Inner>(&by_index, Encoding::MsgPack).unwrap_err();
        assert!(e.contains("field name"), "{e}");
        // {"status" as bin: "idle"}
        let by_bytes = [0x81, 0xc4, 6, b's', b't', b'a', b't', b'u', b's', 0xa4, b'i', b'd', b'l', b'e'];
        assert!(decode_strict::<Inner>(&by_bytes, Encoding::MsgPack).is_err());
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let v = serde_json::json!({"name": 123, "ids": []});
        for r in both::<Outer>(v) {
            let e = r.unwrap_err();
            assert!(e.starts_with("name: invalid type: integer `123`, expected a string"), "{e}");
        }
        let v = serde_json::json!({"name": "x", "ids": ["1", "+2"]});
        for r in both::<Outer>(v) {
            let e = r.unwrap_err();
            assert!(e.starts_with("ids[1]: "), "{e}");
        }
    }
}
