//! Which web pages may open a gateway connection: the Origin check that keeps
//! a malicious page from driving a logged-in browser's gateway. Pure logic.

/// Whether a WebSocket upgrade with `origin` (the Origin header, if any) to
/// `host` (the Host header) is allowed, given the configured extra origins.
pub fn allowed(origin: Option<&str>, host: Option<&str>, extra: &[String]) -> bool {
    let Some(origin) = origin.map(str::trim) else {
        // Bots and native clients send no Origin.
        return true;
    };
    if extra.iter().any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    // Same origin: the Origin's authority is the Host the request was sent to.
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match (authority, host) {
        (Some(a), Some(h)) => a.trim_end_matches('/').eq_ignore_ascii_case(h.trim()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [String], bool);

    #[test]
    fn origin_rules() {
        let none: Vec<String> = vec![];
        let extra = vec!["https://chat.example.org".to_string()];
        let cases: &[Case] = &[
            (None, Some("127.0.0.1:8080"), &none, true),
            (Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080"), &none, true),
            (Some("https://HEARTH.example:443"), Some("hearth.example:443"), &none, true),
            (Some("http://evil.example"), Some("127.0.0.1:8080"), &none, false),
            (Some("http://127.0.0.1:9999"), Some("127.0.0.1:8080"), &none, false),
            (Some("null"), Some("127.0.0.1:8080"), &none, false),
            (Some("https://chat.example.org"), Some("127.0.0.1:8080"), &extra, true),
            (Some("https://chat.example.org.evil"), Some("127.0.0.1:8080"), &extra, false),
            (Some("http://anything"), Some("x"), &["*".to_string()], true),
            (Some("http://127.0.0.1:8080"), None, &none, false),
        ];
        for (origin, host, extra, want) in cases {
            assert_eq!(allowed(*origin, *host, extra), *want, "{origin:?} → {host:?}");
        }
    }
}
