//! Application close codes (4000–4999) the gateway closes connections with.

/// Why the server closed a gateway connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    /// Something unexpected went wrong on the server; reconnect.
    UnknownError = 4000,
    /// The client sent an op that does not exist or that clients may not send.
    UnknownOpcode = 4001,
    /// The frame was not valid MessagePack/JSON, was the wrong frame type for
    /// the encoding, was not valid UTF-8, or was not a `{op, d}` map.
    DecodeError = 4002,
    /// A command other than Identify/Resume/Heartbeat was sent before Identify,
    /// or Identify did not come in time.
    NotAuthenticated = 4003,
    /// The token in Identify is not valid.
    AuthenticationFailed = 4004,
    /// Identify was sent twice on one connection.
    AlreadyAuthenticated = 4005,
    /// Resume named a sequence number the server cannot replay from.
    InvalidSeq = 4007,
    /// The client kept sending after being told it was rate limited.
    RateLimited = 4008,
    /// No heartbeat arrived within the timeout.
    SessionTimedOut = 4009,
    /// The `v` query parameter names a protocol version this server does not speak.
    InvalidApiVersion = 4012,
    /// A frame was larger than `MAX_FRAME_BYTES`.
    FrameTooLarge = 4020,
    /// The client did not read fast enough and its outbound queue passed its bound.
    SlowConsumer = 4021,
    /// The token was revoked (logout, password change, session revoked).
    SessionRevoked = 4022,
    /// The `encoding` query parameter is neither `msgpack` nor `json`.
    InvalidEncoding = 4023,
    /// The server is restarting (sent after op 7 RECONNECT); reconnect.
    Restarting = 4024,
    /// The session was resumed on a newer connection; this one is obsolete.
    SessionSuperseded = 4025,
}

impl CloseCode {
    /// Every close code, for docs checks.
    pub const ALL: [CloseCode; 16] = [
        CloseCode::UnknownError,
        CloseCode::UnknownOpcode,
        CloseCode::DecodeError,
        CloseCode::NotAuthenticated,
        CloseCode::AuthenticationFailed,
        CloseCode::AlreadyAuthenticated,
        CloseCode::InvalidSeq,
        CloseCode::RateLimited,
        CloseCode::SessionTimedOut,
        CloseCode::InvalidApiVersion,
        CloseCode::FrameTooLarge,
        CloseCode::SlowConsumer,
        CloseCode::SessionRevoked,
        CloseCode::InvalidEncoding,
        CloseCode::Restarting,
        CloseCode::SessionSuperseded,
    ];

    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Whether a client should reconnect (and try Resume) after this close.
    pub fn may_reconnect(self) -> bool {
        !matches!(
            self,
            CloseCode::AuthenticationFailed
                | CloseCode::InvalidApiVersion
                | CloseCode::InvalidEncoding
                | CloseCode::SessionRevoked
                | CloseCode::SessionSuperseded
        )
    }
}
