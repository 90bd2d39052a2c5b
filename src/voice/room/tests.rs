//! The room driven by real str0m clients on a fake clock ([`super::peers`]).

use std::collections::HashMap;
use std::time::Duration;

use super::peers::{user, Net, FRAME, LOUD};
use super::{AnswerError, AnswerRefused, Event, Removal};
use crate::model::Id;
use crate::protocol::limits::{SPEAKING_HOLD, VOICE_ANSWER_TIMEOUT, VOICE_CONNECT_TIMEOUT, VOICE_PEER_TIMEOUT};
use crate::voice::flags::Flags;
use crate::voice::liveness::Expired;

const MS: Duration = Duration::from_millis(1);

/// Why `pid` was removed, if it was.
fn removal(n: &Net, pid: u64) -> Option<Removal> {
    n.events.iter().rev().find_map(|e| match e {
        Event::Removed { pid: p, reason, .. } if *p == pid => Some(reason.clone()),
        _ => None,
    })
}

/// Speaking changes so far, in order.
fn speaking(n: &Net) -> Vec<(Id, bool)> {
    n.events
        .iter()
        .filter_map(|e| match e {
            Event::Speaking { user_id, speaking } => Some((*user_id, *speaking)),
            _ => None,
        })
        .collect()
}

/// The users whose audio the last offer to `pid` carries.
fn last_streams(n: &Net, pid: u64) -> Vec<Id> {
    let offer = n.c(pid).offers.last().expect("an offer");
    offer.streams.iter().map(|(_, u)| *u).collect()
}

fn room_of(pids: &[u64]) -> Net {
    let mut n = Net::new();
    for pid in pids {
        n.join(*pid);
    }
    n.connect();
    n
}

#[test]
fn audio_goes_to_every_other_participant_and_never_back() {
    let mut n = room_of(&[1, 2, 3]);
    n.talk(1, Some(LOUD));
    n.run_for(FRAME * 10);
    n.talk(1, None);
    n.run_for(FRAME * 2);
    let sent = n.c(1).sent;
    assert!(sent >= 10, "only {sent} packets sent");
    assert_eq!(n.heard(2, 1), sent);
    assert_eq!(n.heard(3, 1), sent);
    assert_eq!(n.heard(1, 1), 0, "a speaker never hears itself");
    assert_eq!(n.room.take_forwarded(), 2 * sent);
    for pid in [1, 2, 3] {
        assert_eq!(n.c(pid).mislabeled, 0, "{pid} got audio on another user's line");
        for offer in &n.c(pid).offers {
            assert!(offer.streams.iter().all(|(_, u)| *u != user(pid)), "{pid} was offered its own line");
        }
    }
}

#[test]
fn mute_suppress_and_deafen_stop_forwarding() {
    let mut n = room_of(&[1, 2, 3]);
    for pid in [1, 2, 3] {
        n.talk(pid, Some(LOUD));
    }
    let frames = |n: &mut Net| n.run_for(FRAME * 5);
    frames(&mut n);
    let open = Flags::default();
    for silenced in [Flags { self_mute: true, ..open }, Flags { mute: true, ..open }, Flags { suppress: true, ..open }]
    {
        n.room.set_flags(1, silenced);
        let (to2, to3, from2, heard_by_1) = (n.heard(2, 1), n.heard(3, 1), n.heard(3, 2), n.heard(1, 2));
        frames(&mut n);
        assert_eq!((n.heard(2, 1), n.heard(3, 1)), (to2, to3), "{silenced:?} still forwarded");
        assert!(n.heard(3, 2) > from2, "others go on");
        assert!(n.heard(1, 2) > heard_by_1, "{silenced:?} still hears");
        n.room.set_flags(1, open);
        frames(&mut n);
        assert!(n.heard(2, 1) > to2, "unmuted again");
    }
    for deafened in [Flags { self_deaf: true, ..open }, Flags { deaf: true, ..open }] {
        n.room.set_flags(3, deafened);
        let (from1, from2, heard_3, others) = (n.heard(3, 1), n.heard(3, 2), n.heard(1, 3), n.heard(2, 1));
        frames(&mut n);
        assert_eq!((n.heard(3, 1), n.heard(3, 2)), (from1, from2), "{deafened:?} still receives");
        assert!(n.heard(1, 3) > heard_3, "{deafened:?} is still heard");
        assert!(n.heard(2, 1) > others, "others go on");
        n.room.set_flags(3, open);
        frames(&mut n);
        assert!(n.heard(3, 1) > from1, "undeafened again");
    }
}

#[test]
fn speaking_starts_with_loud_packets_and_stops_after_the_hold() {
    let mut n = room_of(&[1, 2]);
    n.talk(1, Some(-90));
    n.run_for(FRAME * 10);
    assert_eq!(speaking(&n), vec![], "quiet packets are not speech");
    n.talk(1, Some(LOUD));
    n.run_for(FRAME * 3);
    assert_eq!(speaking(&n), vec![(user(1), true)]);
    n.talk(1, None);
    let stop = n.c(1).last_sent.expect("sent") + SPEAKING_HOLD;
    assert!(n.timeout.is_some_and(|t| t <= stop), "the room wakes up by the end of the hold");
    n.run_until(stop - MS);
    n.poke();
    assert_eq!(speaking(&n), vec![(user(1), true)], "still speaking 1 ms before the hold ends");
    n.run_until(stop);
    assert_eq!(speaking(&n), vec![(user(1), true), (user(1), false)]);
    // Muting a speaker stops it at once.
    n.talk(1, Some(LOUD));
    n.run_for(FRAME * 3);
    assert_eq!(speaking(&n).last(), Some(&(user(1), true)));
    n.room.set_flags(1, Flags { self_mute: true, ..Flags::default() });
    n.flush();
    assert_eq!(speaking(&n).last(), Some(&(user(1), false)));
    n.run_for(FRAME * 10);
    assert_eq!(speaking(&n).len(), 4, "a muted speaker does not start again");
}

#[test]
fn a_participant_that_never_connects_is_removed_at_the_connect_time_out() {
    let mut n = room_of(&[1]);
    let t0 = n.now;
    n.join_as(2, true, true);
    assert_eq!(last_streams(&n, 1), vec![user(2)]);
    n.run_until(t0 + VOICE_CONNECT_TIMEOUT - MS);
    n.poke();
    assert!(n.room.contains(2) && removal(&n, 2).is_none(), "removed early");
    n.run_until(t0 + VOICE_CONNECT_TIMEOUT);
    assert_eq!(removal(&n, 2), Some(Removal::Expired(Expired::Connect)));
    assert_eq!(n.routes_to(2), 0);
    assert!(n.room.contains(1), "the connected one stays");
    assert_eq!(last_streams(&n, 1), vec![], "its line is stopped");
}

#[test]
fn an_unanswered_offer_removes_at_the_answer_time_out() {
    let mut n = room_of(&[1, 2]);
    n.c_mut(1).answering = false;
    let t0 = n.now;
    n.join(3);
    assert!(n.c(1).unanswered.is_some());
    n.run_until(t0 + VOICE_ANSWER_TIMEOUT - MS);
    n.poke();
    assert!(n.room.contains(1), "removed early");
    n.run_until(t0 + VOICE_ANSWER_TIMEOUT);
    assert_eq!(removal(&n, 1), Some(Removal::Expired(Expired::Answer)));
    assert!(n.room.contains(2) && n.room.contains(3));
}

#[test]
fn a_silent_peer_is_removed_at_the_peer_time_out() {
    let mut n = room_of(&[1, 2]);
    n.c_mut(2).offline = true;
    let last = n.room.parts.get(&2).and_then(|p| p.live.last_recv).expect("received");
    n.run_until(last + VOICE_PEER_TIMEOUT - MS);
    n.poke();
    assert!(n.room.contains(2), "removed early");
    n.run_until(last + VOICE_PEER_TIMEOUT);
    assert_eq!(removal(&n, 2), Some(Removal::Expired(Expired::Peer)));
    assert!(n.room.contains(1), "a peer that keeps sending consent checks stays");
}

#[test]
fn changes_wait_for_the_unanswered_offer_and_go_out_together() {
    let mut n = Net::new();
    n.join_as(1, false, false);
    n.join(2);
    n.join(3);
    assert_eq!(n.c(1).offers.len(), 1, "no second offer while the first waits");
    assert_eq!(last_streams(&n, 1), vec![]);
    n.answer_waiting(1).expect("answer accepted");
    let offers = &n.c(1).offers;
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].revision, 2);
    assert_eq!(last_streams(&n, 1), vec![user(2), user(3)], "both newcomers in one offer");
    // An answer to another revision, or from someone not in the room, is refused.
    let stale = n.room.answer(n.now, 1, 1, "v=0");
    assert_eq!(stale, Err(AnswerRefused::Answer(AnswerError::Stale(1))));
    assert_eq!(n.room.answer(n.now, 9, 1, "v=0"), Err(AnswerRefused::NotJoined));
    // A garbled first answer leaves no half-connected participant behind.
    n.join_as(4, false, false);
    let rev = n.c(4).unanswered.as_ref().map(|o| o.revision).expect("offer");
    assert!(matches!(n.room.answer(n.now, 4, rev, "garbage"), Err(AnswerRefused::Answer(AnswerError::Invalid(_)))));
    n.flush();
    assert!(matches!(removal(&n, 4), Some(Removal::InvalidFirstAnswer(_))));
    assert_eq!(n.routes_to(4), 0);
}

#[test]
fn the_room_wakes_at_the_earliest_deadline_of_any_participant() {
    let mut n = Net::new();
    n.join_as(1, true, true);
    let t1 = n.now;
    n.now += Duration::from_secs(3);
    n.join_as(2, true, true);
    let t2 = n.now;
    // Driven only by the room's own timeouts: each removal happens exactly on time.
    let mut removed_at = HashMap::new();
    for _ in 0..100_000 {
        let Some(t) = n.timeout else { break };
        n.now = t.max(n.now);
        n.room.handle_timeout(n.now);
        n.flush();
        for pid in [1, 2] {
            if !n.room.contains(pid) {
                removed_at.entry(pid).or_insert(n.now);
            }
        }
    }
    assert_eq!(removed_at.get(&1), Some(&(t1 + VOICE_CONNECT_TIMEOUT)));
    assert_eq!(removed_at.get(&2), Some(&(t2 + VOICE_CONNECT_TIMEOUT)));
    assert_eq!(n.timeout, None, "an empty room needs no timer");
}

#[test]
fn leaving_withdraws_every_route_and_line() {
    let mut n = room_of(&[1, 2, 3]);
    assert!(n.routes_to(2) >= 2, "ufrag and address");
    n.room.leave(n.now, 2);
    n.flush();
    assert_eq!(removal(&n, 2), Some(Removal::Left));
    assert_eq!(n.routes_to(2), 0);
    assert_eq!(last_streams(&n, 1), vec![user(3)]);
    assert_eq!(last_streams(&n, 3), vec![user(1)]);
    // Its client, still sending, reaches nobody.
    n.talk(2, Some(LOUD));
    let (unroutable, heard) = (n.unroutable, n.heard(1, 2));
    n.run_for(FRAME * 5);
    assert!(n.unroutable > unroutable);
    assert_eq!(n.heard(1, 2), heard);
    // Leaving again, or someone never there, changes nothing.
    let events = n.events.len();
    n.room.leave(n.now, 2);
    n.room.leave(n.now, 99);
    n.flush();
    assert_eq!(n.events.len(), events);
}

#[test]
fn joining_again_replaces_the_connection_and_keeps_the_lines() {
    let mut n = room_of(&[1, 2]);
    let old_ufrag = n.room.parts.get(&1).map(|p| p.ufrag.clone()).expect("joined");
    n.join(1);
    assert_eq!(removal(&n, 1), Some(Removal::Rejoined));
    assert!(!n.routes.contains_key(&super::RouteKey::Ufrag(old_ufrag)));
    assert_eq!(n.c(2).offers.len(), 1, "2's line for 1 stays");
    n.connect();
    n.talk(1, Some(LOUD));
    n.talk(2, Some(LOUD));
    n.run_for(FRAME * 5);
    assert!(n.heard(1, 2) > 0 && n.heard(2, 1) > 0);
}
