//! Rate limits: token buckets (governor), each a named rule with its numbers
//! documented in docs/api.md and docs/protocol.md. Keys are IPs, tokens,
//! accounts, sessions or (user, channel) pairs.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::errors::{AppError, ErrorCode};
use crate::model::Id;

/// A token bucket: `burst` requests at once, refilled by one every `every`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Name used in docs and error messages.
    pub name: &'static str,
    /// Bucket size.
    pub burst: u32,
    /// Time to refill one request.
    pub every: Duration,
}

/// Gateway commands per session (any op): 120 per 60 s.
pub const GATEWAY_COMMANDS: Rule = Rule { name: "gateway_commands", burst: 120, every: Duration::from_millis(500) };
/// Message sends per user per channel: 5 at once, then 1 per second.
pub const MESSAGE_SENDS: Rule = Rule { name: "message_sends", burst: 5, every: Duration::from_secs(1) };
/// Typing events per user per channel: 2 at once, then 1 per 5 s.
pub const TYPING: Rule = Rule { name: "typing", burst: 2, every: Duration::from_secs(5) };
/// IDENTIFY per IP: 20 at once, then 1 per 3 s.
pub const IDENTIFY_PER_IP: Rule = Rule { name: "identify_per_ip", burst: 20, every: Duration::from_secs(3) };
/// Login attempts per IP: 20 at once, then 1 per 6 s.
pub const LOGIN_PER_IP: Rule = Rule { name: "login_per_ip", burst: 20, every: Duration::from_secs(6) };
/// Password attempts (logins and password changes) for one account from one
/// address: 5 at once, then 1 per 12 s. Keyed on the pair, so a guesser at one
/// address cannot lock the owner out from another.
pub const LOGIN_PER_ACCOUNT_IP: Rule = Rule { name: "login_per_account_ip", burst: 5, every: Duration::from_secs(12) };
/// Password attempts for one account from every address together: 10 at once,
/// then 1 per 6 s. Past it attempts are slowed by [`LOGIN_SLOWDOWN`], never
/// refused, so the owner's right password still gets in.
pub const LOGIN_PER_ACCOUNT: Rule = Rule { name: "login_per_account", burst: 10, every: Duration::from_secs(6) };
/// How long a password attempt waits before it is checked once its account is
/// past [`LOGIN_PER_ACCOUNT`].
pub const LOGIN_SLOWDOWN: Duration = Duration::from_secs(2);
/// Registrations per IP: 10 at once, then 1 per 30 s.
pub const REGISTER_PER_IP: Rule = Rule { name: "register_per_ip", burst: 10, every: Duration::from_secs(30) };
/// REST requests per IP: 200 at once, then 50 per second.
pub const REST_PER_IP: Rule = Rule { name: "rest_per_ip", burst: 200, every: Duration::from_millis(20) };
/// REST requests per token: 100 at once, then 25 per second.
pub const REST_PER_TOKEN: Rule = Rule { name: "rest_per_token", burst: 100, every: Duration::from_millis(40) };
/// 1:1 DM opens (`POST /users/@me/channels` with `recipient_id`) per user: 10 at once, then 1 per 30 s.
pub const DM_OPENS: Rule = Rule { name: "dm_opens", burst: 10, every: Duration::from_secs(30) };
/// Group DMs created or added to (one per request), per user: 5 at once, then 1 per 60 s.
pub const GROUP_DM_ADDS: Rule = Rule { name: "group_dm_adds", burst: 5, every: Duration::from_secs(60) };
/// Friend requests sent (by id or username) per user: 10 at once, then 1 per 30 s.
pub const FRIEND_REQUESTS: Rule = Rule { name: "friend_requests", burst: 10, every: Duration::from_secs(30) };
/// Reactions added or removed per user (any message): 10 at once, then 4 per second.
pub const REACTIONS: Rule = Rule { name: "reactions", burst: 10, every: Duration::from_millis(250) };
/// Rejected gateway commands in a row after which the connection is closed (4008).
pub const GATEWAY_STRIKES: u32 = 10;

/// Every rule, for docs checks.
pub const RULES: &[Rule] = &[
    GATEWAY_COMMANDS,
    MESSAGE_SENDS,
    TYPING,
    IDENTIFY_PER_IP,
    LOGIN_PER_IP,
    LOGIN_PER_ACCOUNT_IP,
    LOGIN_PER_ACCOUNT,
    REGISTER_PER_IP,
    REST_PER_IP,
    REST_PER_TOKEN,
    DM_OPENS,
    GROUP_DM_ADDS,
    FRIEND_REQUESTS,
    REACTIONS,
];

fn quota(rule: Rule, scale: f64) -> Quota {
    let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
    let burst = ((f64::from(rule.burst) * scale).round() as u32).max(1);
    let every = rule.every.div_f64(scale).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every).map_or(Quota::per_second(burst), |q| q.allow_burst(burst))
}

/// A per-session limiter (gateway commands).
pub fn direct(rule: Rule, scale: f64) -> DefaultDirectRateLimiter {
    RateLimiter::direct(quota(rule, scale))
}

/// Check a direct limiter; Err carries the time until a retry may succeed.
pub fn check_direct(l: &DefaultDirectRateLimiter) -> Result<(), Duration> {
    l.check().map_err(|nu| nu.wait_time_from(DefaultClock::default().now()))
}

/// The 429 error for a rule (counted in `hearth_rate_limited_total`).
pub fn limited(rule: Rule, retry: Duration) -> AppError {
    crate::metrics::RATE_LIMITED.with_label_values(&[rule.name]).inc();
    let mut e = AppError::new(ErrorCode::RateLimited, format!("rate limited ({}); retry later", rule.name));
    e.retry_after_ms = Some(u64::try_from(retry.as_millis()).unwrap_or(u64::MAX).max(1));
    e
}

struct Keyed<K: std::hash::Hash + Eq + Clone> {
    rule: Rule,
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(rule: Rule, scale: f64) -> Self {
        Keyed { rule, limiter: RateLimiter::keyed(quota(rule, scale)) }
    }

    fn check(&self, key: &K) -> Result<(), AppError> {
        self.limiter.check_key(key).map_err(|nu| limited(self.rule, nu.wait_time_from(DefaultClock::default().now())))
    }

    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The server-wide keyed limiters.
pub struct Limits {
    message_sends: Keyed<(Id, Id)>,
    typing: Keyed<(Id, Id)>,
    identify_ip: Keyed<IpAddr>,
    login_ip: Keyed<IpAddr>,
    login_account_ip: Keyed<(String, IpAddr)>,
    login_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    rest_ip: Keyed<IpAddr>,
    rest_token: Keyed<String>,
    dm_opens: Keyed<Id>,
    group_dm_adds: Keyed<Id>,
    friend_requests: Keyed<Id>,
    reactions: Keyed<Id>,
    /// Multiplier applied to every rule (1.0 in production).
    pub scale: f64,
}

impl Limits {
    /// Limiters for every rule, scaled by `scale`.
    pub fn new(scale: f64) -> Limits {
        crate::metrics::register_rate_limit_rules(RULES.iter().map(|r| r.name));
        Limits {
            message_sends: Keyed::new(MESSAGE_SENDS, scale),
            typing: Keyed::new(TYPING, scale),
            identify_ip: Keyed::new(IDENTIFY_PER_IP, scale),
            login_ip: Keyed::new(LOGIN_PER_IP, scale),
            login_account_ip: Keyed::new(LOGIN_PER_ACCOUNT_IP, scale),
            login_account: Keyed::new(LOGIN_PER_ACCOUNT, scale),
            register_ip: Keyed::new(REGISTER_PER_IP, scale),
            rest_ip: Keyed::new(REST_PER_IP, scale),
            rest_token: Keyed::new(REST_PER_TOKEN, scale),
            dm_opens: Keyed::new(DM_OPENS, scale),
            group_dm_adds: Keyed::new(GROUP_DM_ADDS, scale),
            friend_requests: Keyed::new(FRIEND_REQUESTS, scale),
            reactions: Keyed::new(REACTIONS, scale),
            scale,
        }
    }

    /// A message send by `user` in `channel`.
    pub fn message_send(&self, user: Id, channel: Id) -> Result<(), AppError> {
        self.message_sends.check(&(user, channel))
    }
    /// A typing event by `user` in `channel`.
    pub fn typing(&self, user: Id, channel: Id) -> Result<(), AppError> {
        self.typing.check(&(user, channel))
    }
    /// An IDENTIFY from `ip`.
    pub fn identify(&self, ip: IpAddr) -> Result<(), AppError> {
        self.identify_ip.check(&ip)
    }
    /// A password attempt (login or password change) from `ip` for `account`
    /// (the lowercased username): refused past `login_per_ip` or
    /// `login_per_account_ip`; otherwise how long to wait before checking the
    /// password (non-zero once the account is past `login_per_account`).
    pub fn login(&self, ip: IpAddr, account: &str) -> Result<Duration, AppError> {
        self.login_ip.check(&ip)?;
        self.login_account_ip.check(&(account.to_string(), ip))?;
        match self.login_account.limiter.check_key(&account.to_string()) {
            Ok(()) => Ok(Duration::ZERO),
            Err(_) => {
                crate::metrics::RATE_LIMITED.with_label_values(&[LOGIN_PER_ACCOUNT.name]).inc();
                Ok(LOGIN_SLOWDOWN)
            }
        }
    }
    /// A registration from `ip`.
    pub fn register(&self, ip: IpAddr) -> Result<(), AppError> {
        self.register_ip.check(&ip)
    }
    /// A REST request from `ip`, with `token` if it carried one.
    pub fn rest(&self, ip: IpAddr, token: Option<&str>) -> Result<(), AppError> {
        self.rest_ip.check(&ip)?;
        match token {
            Some(t) => self.rest_token.check(&t.to_string()),
            None => Ok(()),
        }
    }

    /// A 1:1 DM open by `user`.
    pub fn dm_open(&self, user: Id) -> Result<(), AppError> {
        self.dm_opens.check(&user)
    }
    /// A group DM created, or someone added to one, by `user`.
    pub fn group_dm_add(&self, user: Id) -> Result<(), AppError> {
        self.group_dm_adds.check(&user)
    }
    /// A friend request sent by `user`.
    pub fn friend_request(&self, user: Id) -> Result<(), AppError> {
        self.friend_requests.check(&user)
    }

    /// A reaction added or removed by `user`.
    pub fn reaction(&self, user: Id) -> Result<(), AppError> {
        self.reactions.check(&user)
    }

    /// Forget keys whose buckets are full again (bounds memory).
    pub fn prune(&self) {
        self.message_sends.prune();
        self.typing.prune();
        self.identify_ip.prune();
        self.login_ip.prune();
        self.login_account_ip.prune();
        self.login_account.prune();
        self.register_ip.prune();
        self.rest_ip.prune();
        self.rest_token.prune();
        self.dm_opens.prune();
        self.group_dm_adds.prune();
        self.friend_requests.prune();
        self.reactions.prune();
    }

    /// Keys (users, addresses, tokens...) the limiters hold now; `prune`
    /// (every minute) drops those whose buckets are full again.
    pub fn keys(&self) -> usize {
        self.message_sends.len()
            + self.typing.len()
            + self.identify_ip.len()
            + self.login_ip.len()
            + self.login_account_ip.len()
            + self.login_account.len()
            + self.register_ip.len()
            + self.rest_ip.len()
            + self.rest_token.len()
            + self.dm_opens.len()
            + self.group_dm_adds.len()
            + self.friend_requests.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys of clients that went quiet are forgotten: a flood of distinct
    /// addresses and tokens does not stay in memory.
    #[test]
    fn prune_forgets_keys_whose_buckets_refilled() {
        // A huge scale refills every bucket within microseconds.
        let l = Limits::new(1e9);
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            l.rest(ip, Some(&format!("token{i}"))).expect("allowed");
            l.message_send(Id(u64::from(i)), Id(1)).expect("allowed");
        }
        assert_eq!(l.keys(), 3000);
        std::thread::sleep(Duration::from_millis(20));
        l.prune();
        assert_eq!(l.keys(), 0, "every bucket is full again");
        // A key still within its burst window is kept.
        let l = Limits::new(1.0);
        l.rest(IpAddr::from([10, 0, 0, 1]), None).expect("allowed");
        l.prune();
        assert_eq!(l.keys(), 1);
    }

    #[test]
    fn buckets_allow_the_burst_then_refuse_with_a_retry_time() {
        let l = Limits::new(1.0);
        let (u, c) = (Id(1), Id(2));
        for _ in 0..MESSAGE_SENDS.burst {
            assert!(l.message_send(u, c).is_ok());
        }
        let e = l.message_send(u, c).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.status, 429);
        let retry = e.retry_after_ms.unwrap();
        assert!(retry > 0 && retry <= 1000, "{retry}");
        // Another channel, another user: separate buckets.
        assert!(l.message_send(u, Id(3)).is_ok());
        assert!(l.message_send(Id(9), c).is_ok());
    }

    #[test]
    fn scale_multiplies_the_burst() {
        let l = Limits::new(10.0);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..(LOGIN_PER_ACCOUNT_IP.burst * 10) {
            assert!(l.login(ip, "a").is_ok());
        }
        assert!(l.login(ip, "a").is_err(), "the account-and-address bucket is 10 × 5");
        assert!(l.login(ip, "b").is_ok());
        let d = direct(GATEWAY_COMMANDS, 1.0);
        for _ in 0..GATEWAY_COMMANDS.burst {
            assert!(check_direct(&d).is_ok());
        }
        assert!(check_direct(&d).is_err());
    }

    #[test]
    fn a_guesser_is_refused_but_cannot_lock_the_owner_out() {
        let l = Limits::new(1.0);
        let attacker: IpAddr = "198.51.100.7".parse().unwrap();
        let owner: IpAddr = "203.0.113.5".parse().unwrap();
        for _ in 0..LOGIN_PER_ACCOUNT_IP.burst {
            assert_eq!(l.login(attacker, "alice").unwrap(), Duration::ZERO);
        }
        let e = l.login(attacker, "alice").unwrap_err();
        assert_eq!((e.code, e.status), (ErrorCode::RateLimited, 429));
        assert!(e.message.contains("login_per_account_ip"), "{}", e.message);
        // The same account from another address is untouched.
        assert_eq!(l.login(owner, "alice").unwrap(), Duration::ZERO);
    }

    #[test]
    fn guessing_from_many_addresses_slows_the_account_but_never_refuses_it() {
        let l = Limits::new(1.0);
        // Two attempts from each of many addresses: each pair is within its own
        // bucket, but together they use up the account's.
        let mut slowed = 0;
        for i in 1..=20u8 {
            let ip = IpAddr::from([10, 0, 0, i]);
            for _ in 0..2 {
                if l.login(ip, "alice").unwrap() == LOGIN_SLOWDOWN {
                    slowed += 1;
                }
            }
        }
        assert_eq!(slowed, 40 - LOGIN_PER_ACCOUNT.burst as usize);
        // The owner, from a fresh address, is slowed down, not refused.
        let owner: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(l.login(owner, "alice").unwrap(), LOGIN_SLOWDOWN);
        // Other accounts are not affected.
        assert_eq!(l.login(owner, "bob").unwrap(), Duration::ZERO);
    }
}
