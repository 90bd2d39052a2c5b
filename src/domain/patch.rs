//! The rule every PATCH route follows (docs/api.md, "Changing things with
//! PATCH"): a patch must name at least one field it can change, and a patch
//! whose fields already hold the requested values writes nothing and sends no
//! event.
//!
//! Refusing the empty patch first, before any permission check, means an empty
//! body can never pass for a permitted write; treating an unchanged value as
//! no change keeps a client that re-sends a whole settings form from waking
//! every member's client.

use crate::errors::AppError;

/// Refuse a patch that names no field: `present` holds, per field the route
/// knows, whether the body set it.
pub fn require_fields(present: &[bool]) -> Result<(), AppError> {
    if present.iter().any(|p| *p) {
        Ok(())
    } else {
        Err(AppError::invalid("nothing to change: name at least one field"))
    }
}

/// `current` with `change` applied, or None when that changes nothing (then
/// there is nothing to write and nothing to announce).
pub fn apply<T: Clone + PartialEq>(current: &T, change: impl FnOnce(&mut T)) -> Option<T> {
    let mut next = current.clone();
    change(&mut next);
    (next != *current).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_patch_is_refused() {
        let e = require_fields(&[false, false, false]).unwrap_err();
        assert_eq!((e.code, e.status), (crate::errors::ErrorCode::InvalidBody, 400));
        assert!(e.message.contains("nothing to change"));
        assert!(require_fields(&[]).is_err());
        assert!(require_fields(&[false, true]).is_ok());
    }

    #[test]
    fn only_a_real_change_is_written() {
        let current = (String::from("general"), 3);
        assert_eq!(apply(&current, |c| c.0 = "general".into()), None);
        assert_eq!(apply(&current, |_| {}), None);
        assert_eq!(apply(&current, |c| c.1 = 4), Some((String::from("general"), 4)));
    }
}
