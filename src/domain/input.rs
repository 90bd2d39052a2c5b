//! Helpers for the input types of domain operations (request bodies and
//! gateway payloads deserialize straight into them).

/// For `#[serde(default, deserialize_with = "present")]` on `Option<Option<T>>`
/// fields: absent → None (unchanged), null → Some(None) (cleared), value → Some(Some(v)).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Some(<Option<T> as serde::Deserialize>::deserialize(d)?))
}
