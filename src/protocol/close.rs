//! Application close codes (4000–4999) the gateway closes connections with.
//!
//! Each code is declared once, in the [`close_codes!`] list below: its number,
//! whether a client should reconnect after it, and its description.
//! `CloseCode`, `CloseCode::ALL`, `name`, `may_reconnect` and `description`
//! are generated from that list, and tests/docs_agree.rs checks
//! docs/protocol.md against them.

/// Declares `CloseCode` and everything derived from its one list of codes.
macro_rules! close_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, reconnect: $reconnect:literal; )*) => {
        /// Why the server closed a gateway connection.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u16)]
        pub enum CloseCode {
            $( $(#[doc = $doc])+ $variant = $code, )*
        }

        impl CloseCode {
            /// Every close code, in number order.
            pub const ALL: [CloseCode; [$(CloseCode::$variant),*].len()] = [$(CloseCode::$variant),*];

            /// The documented name (the variant's name, as in docs/protocol.md).
            pub fn name(self) -> &'static str {
                match self {
                    $( CloseCode::$variant => stringify!($variant), )*
                }
            }

            /// Whether a client should reconnect (and try Resume) after this close.
            pub fn may_reconnect(self) -> bool {
                match self {
                    $( CloseCode::$variant => $reconnect, )*
                }
            }

            /// What it means (its doc comment).
            pub fn description(self) -> &'static str {
                match self {
                    $( CloseCode::$variant => concat!($($doc),+).trim_ascii(), )*
                }
            }
        }
    };
}

close_codes! {
    /// Something unexpected went wrong on the server; reconnect.
    UnknownError = 4000, reconnect: true;
    /// The client sent an op that does not exist or that clients may not send.
    UnknownOpcode = 4001, reconnect: true;
    /// The frame was not valid MessagePack/JSON, was the wrong frame type for
    /// the encoding, was not valid UTF-8, or was not a `{op, d}` map.
    DecodeError = 4002, reconnect: true;
    /// A command other than Identify/Resume/Heartbeat was sent before Identify,
    /// or Identify did not come in time.
    NotAuthenticated = 4003, reconnect: true;
    /// The token in Identify is not valid.
    AuthenticationFailed = 4004, reconnect: false;
    /// Identify was sent twice on one connection.
    AlreadyAuthenticated = 4005, reconnect: true;
    /// Resume named a sequence number the server never sent.
    InvalidSeq = 4007, reconnect: true;
    /// The client kept sending after being told it was rate limited.
    RateLimited = 4008, reconnect: true;
    /// No heartbeat arrived within the timeout.
    SessionTimedOut = 4009, reconnect: true;
    /// The `v` query parameter names a protocol version this server does not speak.
    InvalidApiVersion = 4012, reconnect: false;
    /// A frame was larger than `MAX_FRAME_BYTES`.
    FrameTooLarge = 4020, reconnect: true;
    /// The client did not read fast enough and its outbound queue passed its bound.
    SlowConsumer = 4021, reconnect: true;
    /// The token was revoked (logout, password change, session revoked).
    SessionRevoked = 4022, reconnect: false;
    /// The `encoding` query parameter is neither `msgpack` nor `json`.
    InvalidEncoding = 4023, reconnect: false;
    /// The server is restarting (sent after op 7 RECONNECT); reconnect.
    Restarting = 4024, reconnect: true;
    /// The session was resumed on a newer connection; this one is obsolete.
    SessionSuperseded = 4025, reconnect: false;
}

impl CloseCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_list_gives_numbers_names_and_advice() {
        assert_eq!(CloseCode::ALL.len(), 16);
        assert!(CloseCode::ALL.windows(2).all(|w| w[0].code() < w[1].code()), "ALL is in number order");
        assert_eq!((CloseCode::InvalidSeq.code(), CloseCode::InvalidSeq.name()), (4007, "InvalidSeq"));
        assert!(!CloseCode::SessionRevoked.may_reconnect() && CloseCode::SlowConsumer.may_reconnect());
        assert!(CloseCode::DecodeError.description().starts_with("The frame was not valid"));
        for c in CloseCode::ALL {
            assert_eq!(c.name(), format!("{c:?}"));
        }
    }
}
