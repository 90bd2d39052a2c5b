//! Direct messages: 1:1 DMs (one channel per pair, found again on the second
//! request) and group DMs (up to MAX_GROUP_DM_MEMBERS people; add, remove,
//! leave; the owner removes others and ownership passes on when they leave).

use serde::Deserialize;

use super::effects::{Effect, Effects};
use super::privacy;
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::{MAX_GROUP_DM_MEMBERS, MAX_PRIVATE_CHANNELS_PAGE};
use crate::model::{validate, Channel, ChannelKind, Id};
use crate::ratelimit::Limits;
use crate::store::{Read, Store, Write};

/// What a client asks for when opening a DM.
#[derive(Debug, Deserialize)]
pub struct OpenDm {
    /// Open (or find) the 1:1 DM with this user.
    pub recipient_id: Option<Id>,
    /// Or create a group DM with these users (the caller is added).
    pub recipient_ids: Option<Vec<Id>>,
    /// Optional group DM name.
    pub name: Option<String>,
}

/// A DM channel record.
fn new_dm(id: Id, kind: ChannelKind, recipients: Vec<Id>, owner: Option<Id>, name: Option<String>) -> Channel {
    Channel { recipients, owner_id: owner, ..Channel::new(id, kind, None, name) }
}

/// The people of a new group DM: the caller first, then the others sorted,
/// without duplicates; 400 unless there are 2–MAX_GROUP_DM_MEMBERS in all.
pub fn group_recipients(me: Id, mut others: Vec<Id>) -> Result<Vec<Id>, AppError> {
    others.retain(|u| *u != me);
    others.sort();
    others.dedup();
    if others.is_empty() || others.len() + 1 > MAX_GROUP_DM_MEMBERS {
        return Err(AppError::invalid(format!(
            "recipient_ids: a group DM has 2–{MAX_GROUP_DM_MEMBERS} people including you"
        )));
    }
    let mut all = vec![me];
    all.extend(others);
    Ok(all)
}

/// Add `user` to a group DM record; false if already there, 422 when full.
pub fn add_recipient(c: &mut Channel, user: Id) -> Result<bool, AppError> {
    if c.recipients.contains(&user) {
        return Ok(false);
    }
    if c.recipients.len() >= MAX_GROUP_DM_MEMBERS {
        return Err(AppError::limit(format!("a group DM has at most {MAX_GROUP_DM_MEMBERS} people")));
    }
    c.recipients.push(user);
    Ok(true)
}

/// Remove `user` from a group DM record; ownership passes to the
/// longest-standing remaining member. Returns false when nobody is left (the
/// channel goes away).
pub fn remove_recipient(c: &mut Channel, user: Id) -> bool {
    c.recipients.retain(|u| *u != user);
    if c.owner_id == Some(user) {
        c.owner_id = c.recipients.first().copied();
    }
    !c.recipients.is_empty()
}

/// 403 unless `me` may remove `user` from group DM `c` (yourself always; others: the owner only).
pub fn may_remove(c: &Channel, me: Id, user: Id) -> Result<(), AppError> {
    if user != me && c.owner_id != Some(me) {
        return Err(AppError::missing_permissions_msg("only the group DM's owner may remove others"));
    }
    if !c.recipients.contains(&user) {
        return Err(AppError::unknown_user());
    }
    Ok(())
}

/// A page of the caller's DMs and group DMs.
#[derive(Debug, Deserialize)]
pub struct DmPage {
    /// Channels with ids above this.
    pub after: Option<Id>,
    /// Page size (1–MAX_PRIVATE_CHANNELS_PAGE, default MAX_PRIVATE_CHANNELS_PAGE).
    pub limit: Option<u32>,
}

/// A page of the caller's DMs and group DMs.
pub fn list(r: &impl Read, caller: Id, page: &DmPage) -> Result<Vec<Channel>, AppError> {
    let limit = page.limit.unwrap_or(MAX_PRIVATE_CHANNELS_PAGE);
    if !(1..=MAX_PRIVATE_CHANNELS_PAGE).contains(&limit) {
        return Err(AppError::new(
            ErrorCode::InvalidQuery,
            format!("limit: 1–{MAX_PRIVATE_CHANNELS_PAGE} (MAX_PRIVATE_CHANNELS_PAGE)"),
        ));
    }
    Ok(r.user_channels_page(caller, page.after, limit as usize)?)
}

/// Open a DM or create a group DM. Answers the channel and whether it is new.
/// Opening DMs and adding people to group DMs are rate-limited per user
/// (`dm_opens`, `group_dm_adds`); blocks and the other side's privacy
/// settings are checked before the write and again inside it.
pub async fn open(store: &Store, limits: &Limits, me: Id, b: OpenDm) -> Result<(Channel, bool, Effects), AppError> {
    match (b.recipient_id, b.recipient_ids) {
        (Some(other), None) => open_dm(store, limits, me, other).await,
        (None, Some(others)) => open_group(store, limits, me, others, b.name).await,
        _ => Err(AppError::invalid("give either recipient_id or recipient_ids")),
    }
}

async fn open_dm(store: &Store, limits: &Limits, me: Id, other: Id) -> Result<(Channel, bool, Effects), AppError> {
    if other == me {
        return Err(AppError::invalid("recipient_id: cannot open a DM with yourself"));
    }
    limits.dm_open(me)?;
    let r = store.read()?;
    r.user(other)?.ok_or_else(AppError::unknown_user)?;
    if let Some(cid) = r.dm_channel_id(me, other)? {
        // An existing DM is found again unless a block stands between the two.
        privacy::check_dm_send(&r, me, other)?;
        let c = r.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
        return Ok((c, false, Effects::none()));
    }
    privacy::check_dm_open(&r, me, other)?;
    let c = new_dm(store.ids().next(), ChannelKind::Dm, vec![me, other], None, None);
    let (created, channel) = store
        .write(move |w| {
            // Two requests may race; the first one's channel wins.
            if let Some(existing) = w.dm_channel_id(me, other)? {
                return Ok::<_, AppError>((false, w.channel(existing)?.ok_or_else(AppError::unknown_channel)?));
            }
            // A block may have landed since the check above.
            privacy::check_dm_open(w, me, other)?;
            w.put_channel(&c)?;
            w.put_dm_pair(me, other, c.id)?;
            w.add_user_channel(me, c.id)?;
            w.add_user_channel(other, c.id)?;
            Ok((true, c))
        })
        .await?;
    let effects = if created { Effects::one(Effect::DmCreated(channel.clone())) } else { Effects::none() };
    Ok((channel, created, effects))
}

async fn open_group(
    store: &Store,
    limits: &Limits,
    me: Id,
    others: Vec<Id>,
    name: Option<String>,
) -> Result<(Channel, bool, Effects), AppError> {
    let recipients = group_recipients(me, others)?;
    let name = name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    let r = store.read()?;
    let others = recipients.get(1..).unwrap_or_default();
    for u in others {
        r.user(*u)?.ok_or_else(AppError::unknown_user)?;
    }
    privacy::group_dm_room(r.group_dm_count(me)?, true)?;
    for u in others {
        privacy::check_group_add(&r, me, *u)?;
    }
    limits.group_dm_add(me)?;
    let channel = new_dm(store.ids().next(), ChannelKind::GroupDm, recipients, Some(me), name);
    let c = channel.clone();
    store
        .write(move |w| {
            privacy::group_dm_room(w.group_dm_count(me)?, true)?;
            for u in c.recipients.iter().filter(|u| **u != me) {
                privacy::check_group_add(w, me, *u)?;
            }
            w.put_channel(&c)?;
            for u in &c.recipients {
                w.add_user_channel(*u, c.id)?;
            }
            Ok::<_, AppError>(())
        })
        .await?;
    Ok((channel.clone(), true, Effects::one(Effect::DmCreated(channel))))
}

/// A group DM the caller is in; 404 otherwise, 400 for 1:1 DMs.
fn group_of(r: &impl Read, cid: Id, me: Id) -> Result<Channel, AppError> {
    let c = r.channel(cid)?.filter(|c| c.recipients.contains(&me)).ok_or_else(AppError::unknown_channel)?;
    if c.kind != ChannelKind::GroupDm {
        return Err(AppError::invalid("only group DMs have changeable recipients"));
    }
    Ok(c)
}

/// Add someone to a group DM the caller is in.
pub async fn add(store: &Store, limits: &Limits, me: Id, cid: Id, uid: Id) -> Result<(Channel, Effects), AppError> {
    let r = store.read()?;
    let before = group_of(&r, cid, me)?.recipients;
    r.user(uid)?.ok_or_else(AppError::unknown_user)?;
    if !before.contains(&uid) {
        privacy::check_group_add(&r, me, uid)?;
        limits.group_dm_add(me)?;
    }
    drop(r);
    let c = store
        .write(move |w| {
            let mut c = w.channel(cid)?.filter(|c| c.recipients.contains(&me)).ok_or_else(AppError::unknown_channel)?;
            if !c.recipients.contains(&uid) {
                privacy::check_group_add(w, me, uid)?;
            }
            if add_recipient(&mut c, uid)? {
                w.put_channel(&c)?;
                w.add_user_channel(uid, cid)?;
            }
            Ok::<_, AppError>(c)
        })
        .await?;
    let effects = Effects::one(Effect::DmChanged { channel: cid, before, after: Some(c.clone()) });
    Ok((c, effects))
}

/// Remove someone (or yourself: leave) from a group DM.
pub async fn remove(store: &Store, me: Id, cid: Id, uid: Id) -> Result<Effects, AppError> {
    let c = group_of(&store.read()?, cid, me)?;
    may_remove(&c, me, uid)?;
    let before = c.recipients;
    let after = store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            w.remove_user_channel(uid, cid)?;
            if !remove_recipient(&mut c, uid) {
                w.delete_channel(&c)?;
                return Ok::<_, AppError>(None);
            }
            w.put_channel(&c)?;
            Ok(Some(c))
        })
        .await?;
    Ok(Effects::one(Effect::DmChanged { channel: cid, before, after }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_recipients_put_the_caller_first_and_dedup() {
        assert_eq!(group_recipients(Id(5), vec![Id(3), Id(5), Id(3), Id(1)]).unwrap(), vec![Id(5), Id(1), Id(3)]);
        assert!(group_recipients(Id(5), vec![Id(5)]).is_err(), "alone");
        let many: Vec<Id> = (10..10 + MAX_GROUP_DM_MEMBERS as u64).map(Id).collect();
        assert!(group_recipients(Id(1), many).is_err(), "one too many with the caller");
    }

    #[test]
    fn adding_is_idempotent_and_bounded() {
        let mut c = new_dm(Id(100), ChannelKind::GroupDm, vec![Id(1), Id(2)], Some(Id(1)), None);
        assert!(add_recipient(&mut c, Id(3)).unwrap());
        assert!(!add_recipient(&mut c, Id(3)).unwrap());
        for u in 4..=MAX_GROUP_DM_MEMBERS as u64 {
            add_recipient(&mut c, Id(u)).unwrap();
        }
        assert_eq!(add_recipient(&mut c, Id(999)).unwrap_err().status, 422);
    }

    #[test]
    fn ownership_passes_on_and_the_last_one_out_deletes() {
        let mut c = new_dm(Id(100), ChannelKind::GroupDm, vec![Id(1), Id(2), Id(3)], Some(Id(1)), None);
        assert!(may_remove(&c, Id(2), Id(3)).is_err(), "only the owner removes others");
        assert!(may_remove(&c, Id(2), Id(2)).is_ok(), "anyone may leave");
        assert!(may_remove(&c, Id(1), Id(9)).is_err(), "not a recipient");
        assert!(remove_recipient(&mut c, Id(1)));
        assert_eq!(c.owner_id, Some(Id(2)));
        assert!(remove_recipient(&mut c, Id(2)));
        assert!(!remove_recipient(&mut c, Id(3)));
    }
}
