//! Friends and blocks: what a friend request, a block or a removal does, given
//! how two users currently stand with each other. Pure: the caller reads both
//! rows, asks here, and writes the rows that come back (and tells each side
//! whose row changed).

use crate::errors::{AppError, ErrorCode};
use crate::model::limits::MAX_RELATIONSHIPS;
pub use crate::model::relationships::{Pair, RelationshipKind};
use crate::model::Id;
use crate::protocol::events::Relationship;
use crate::store::{Read, StoreError};

/// How many relationships each side has now (for [`MAX_RELATIONSHIPS`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// The actor's.
    pub mine: usize,
    /// The target's.
    pub theirs: usize,
}

/// Why a relationship change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationshipError {
    /// Befriending or blocking oneself.
    #[error("you cannot do this to yourself")]
    SelfTarget,
    /// A friend request to a friend.
    #[error("you are already friends")]
    AlreadyFriends,
    /// A friend request while one is already pending from the actor.
    #[error("a friend request to this user is already pending")]
    AlreadyRequested,
    /// The target blocked the actor (not said in so many words).
    #[error("this user is not accepting friend requests from you")]
    RefusedByThem,
    /// The actor blocked the target.
    #[error("you blocked this user; unblock them first")]
    YouBlocked,
    /// Accepting when there is no incoming request.
    #[error("this user has not sent you a friend request")]
    NoRequest,
    /// Removing a relationship that does not exist.
    #[error("you have no relationship with this user")]
    NoRelationship,
    /// The actor is at [`MAX_RELATIONSHIPS`].
    #[error("you have {MAX_RELATIONSHIPS} relationships; remove some first")]
    TooManyMine,
    /// The target is at [`MAX_RELATIONSHIPS`].
    #[error("this user has {MAX_RELATIONSHIPS} relationships and can take no more")]
    TooManyTheirs,
}

impl From<RelationshipError> for AppError {
    fn from(e: RelationshipError) -> Self {
        let code = match e {
            RelationshipError::SelfTarget => ErrorCode::CannotTargetSelf,
            RelationshipError::AlreadyFriends => ErrorCode::AlreadyFriends,
            RelationshipError::AlreadyRequested => ErrorCode::AlreadyRequested,
            RelationshipError::RefusedByThem | RelationshipError::YouBlocked => ErrorCode::CannotBefriendUser,
            RelationshipError::NoRequest | RelationshipError::NoRelationship => ErrorCode::UnknownRelationship,
            RelationshipError::TooManyMine | RelationshipError::TooManyTheirs => ErrorCode::LimitReached,
        };
        AppError::new(code, e.to_string())
    }
}

use RelationshipKind::{Blocked, Friend, Incoming, Outgoing};

/// Refuse acting on oneself.
pub fn not_self(me: Id, them: Id) -> Result<(), RelationshipError> {
    if me == them {
        return Err(RelationshipError::SelfTarget);
    }
    Ok(())
}

/// A friend request from the actor (or, with `accept_only`, only the
/// acceptance of the target's request). Returns the rows afterwards.
pub fn request(pair: Pair, counts: Counts, accept_only: bool) -> Result<Pair, RelationshipError> {
    match (pair.mine, pair.theirs) {
        (Some(Blocked), _) => Err(RelationshipError::YouBlocked),
        (_, Some(Blocked)) => Err(RelationshipError::RefusedByThem),
        (Some(Friend), _) => Err(RelationshipError::AlreadyFriends),
        (Some(Incoming), _) => Ok(Pair { mine: Some(Friend), theirs: Some(Friend) }),
        _ if accept_only => Err(RelationshipError::NoRequest),
        (Some(Outgoing), _) => Err(RelationshipError::AlreadyRequested),
        (None, _) => {
            if counts.mine >= MAX_RELATIONSHIPS {
                return Err(RelationshipError::TooManyMine);
            }
            if counts.theirs >= MAX_RELATIONSHIPS {
                return Err(RelationshipError::TooManyTheirs);
            }
            Ok(Pair { mine: Some(Outgoing), theirs: Some(Incoming) })
        }
    }
}

/// The actor blocks the target: any friendship or pending request between
/// them ends; the target's own block of the actor, if any, stays.
pub fn block(pair: Pair, counts: Counts) -> Result<Pair, RelationshipError> {
    if pair.mine.is_none() && counts.mine >= MAX_RELATIONSHIPS {
        return Err(RelationshipError::TooManyMine);
    }
    let theirs = pair.theirs.filter(|k| *k == Blocked);
    Ok(Pair { mine: Some(Blocked), theirs })
}

/// The actor removes the relationship: unfriend, cancel or decline a request,
/// or unblock. The target's block of the actor stays.
pub fn remove(pair: Pair) -> Result<Pair, RelationshipError> {
    match pair.mine {
        None => Err(RelationshipError::NoRelationship),
        Some(Blocked) => Ok(Pair { mine: None, theirs: pair.theirs }),
        Some(Friend | Incoming | Outgoing) => Ok(Pair { mine: None, theirs: pair.theirs.filter(|k| *k == Blocked) }),
    }
}

/// A user's relationships with the other users joined in (rows about users
/// deleted since are left out).
pub fn relationships_of(r: &impl Read, user: Id) -> Result<Vec<Relationship>, StoreError> {
    let mut out = Vec::new();
    for (id, kind) in r.relationships(user)? {
        if let Some(user) = r.user(id)? {
            out.push(Relationship { id, kind, user });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(mine: Option<RelationshipKind>, theirs: Option<RelationshipKind>) -> Pair {
        Pair { mine, theirs }
    }
    const NONE: Counts = Counts { mine: 0, theirs: 0 };

    #[test]
    fn a_request_goes_out_and_is_accepted_from_the_other_side() {
        let sent = request(Pair::default(), NONE, false).unwrap();
        assert_eq!(sent, pair(Some(Outgoing), Some(Incoming)));
        // The other side's view of the same rows is swapped.
        let back = request(pair(sent.theirs, sent.mine), NONE, true).unwrap();
        assert_eq!(back, pair(Some(Friend), Some(Friend)));
    }

    #[test]
    fn a_request_to_someone_who_requested_you_accepts_it() {
        assert_eq!(
            request(pair(Some(Incoming), Some(Outgoing)), NONE, false).unwrap(),
            pair(Some(Friend), Some(Friend))
        );
    }

    #[test]
    fn duplicates_and_blocks_are_refused() {
        assert_eq!(request(pair(Some(Friend), Some(Friend)), NONE, false), Err(RelationshipError::AlreadyFriends));
        assert_eq!(
            request(pair(Some(Outgoing), Some(Incoming)), NONE, false),
            Err(RelationshipError::AlreadyRequested)
        );
        assert_eq!(request(pair(None, Some(Blocked)), NONE, false), Err(RelationshipError::RefusedByThem));
        assert_eq!(request(pair(Some(Blocked), None), NONE, false), Err(RelationshipError::YouBlocked));
        assert_eq!(request(pair(Some(Blocked), Some(Blocked)), NONE, true), Err(RelationshipError::YouBlocked));
    }

    #[test]
    fn accepting_needs_an_incoming_request() {
        assert_eq!(request(Pair::default(), NONE, true), Err(RelationshipError::NoRequest));
        assert_eq!(request(pair(Some(Outgoing), Some(Incoming)), NONE, true), Err(RelationshipError::NoRequest));
        assert_eq!(request(pair(Some(Friend), Some(Friend)), NONE, true), Err(RelationshipError::AlreadyFriends));
    }

    #[test]
    fn the_relationship_limit_holds_for_both_sides_but_not_for_accepting() {
        let full = MAX_RELATIONSHIPS;
        let mine_full = Counts { mine: full, theirs: 0 };
        let theirs_full = Counts { mine: 0, theirs: full };
        assert_eq!(request(Pair::default(), mine_full, false), Err(RelationshipError::TooManyMine));
        assert_eq!(request(Pair::default(), theirs_full, false), Err(RelationshipError::TooManyTheirs));
        assert!(request(pair(Some(Incoming), Some(Outgoing)), mine_full, false).is_ok());
        assert_eq!(block(Pair::default(), mine_full), Err(RelationshipError::TooManyMine));
        // Turning an existing row into a block takes no new slot.
        assert!(block(pair(Some(Friend), Some(Friend)), mine_full).is_ok());
        assert!(request(Pair::default(), Counts { mine: full - 1, theirs: full - 1 }, false).is_ok());
    }

    #[test]
    fn blocking_ends_friendship_and_requests_but_keeps_their_block() {
        for theirs in [Some(Friend), Some(Incoming), Some(Outgoing), None] {
            assert_eq!(block(pair(theirs, theirs), NONE).unwrap(), pair(Some(Blocked), None), "{theirs:?}");
        }
        assert_eq!(block(pair(None, Some(Blocked)), NONE).unwrap(), pair(Some(Blocked), Some(Blocked)));
        // Blocking again changes nothing.
        assert_eq!(block(pair(Some(Blocked), None), NONE).unwrap(), pair(Some(Blocked), None));
    }

    #[test]
    fn removing_clears_both_rows_except_a_block() {
        assert_eq!(remove(pair(Some(Friend), Some(Friend))).unwrap(), Pair::default());
        assert_eq!(remove(pair(Some(Outgoing), Some(Incoming))).unwrap(), Pair::default());
        assert_eq!(remove(pair(Some(Incoming), Some(Outgoing))).unwrap(), Pair::default());
        assert_eq!(remove(pair(Some(Blocked), Some(Blocked))).unwrap(), pair(None, Some(Blocked)));
        assert_eq!(remove(Pair::default()), Err(RelationshipError::NoRelationship));
    }

    #[test]
    fn kinds_round_trip_through_their_stored_byte() {
        for k in [Friend, Blocked, Incoming, Outgoing] {
            assert_eq!(RelationshipKind::from_byte(k.to_byte()), Some(k));
        }
        assert_eq!(RelationshipKind::from_byte(0), None);
        assert_eq!(not_self(Id(1), Id(1)), Err(RelationshipError::SelfTarget));
        let e: AppError = RelationshipError::AlreadyRequested.into();
        assert_eq!((e.code.as_str(), e.status), ("already_requested", 409));
    }
}
