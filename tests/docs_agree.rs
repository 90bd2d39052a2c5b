//! Keeps `docs/protocol.md`, `docs/api.md` (and, for limits, `docs/operations.md`) in step with the code: every op,
//! close code, event name, limit, rate-limit rule, error code, permission bit
//! and REST route the server has must be documented. No server is started.

use std::path::{Path, PathBuf};

use hearth::errors::ErrorCode;
use hearth::model::permissions::Permissions;
use hearth::protocol::events::{EVENTS, EVENT_NAMES};
use hearth::protocol::{CloseCode, Op};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn protocol_md() -> String {
    read("docs/protocol.md")
}

fn api_md() -> String {
    read("docs/api.md")
}

fn operations_md() -> String {
    read("docs/operations.md")
}

/// Fail with one message listing everything that is missing.
fn report(what: &str, doc: &str, missing: &[String]) {
    assert!(
        missing.is_empty(),
        "{doc} is out of date: {} {what} missing or wrong:\n  - {}\n",
        missing.len(),
        missing.join("\n  - ")
    );
}

/// The cells of every Markdown table row, trimmed and without backticks.
fn table_rows(doc: &str) -> Vec<Vec<String>> {
    doc.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().trim_matches('`').trim().to_string()).collect())
        .collect()
}

/// Whether some table row has a cell equal to each of `cells`.
fn has_row_with(rows: &[Vec<String>], cells: &[&str]) -> bool {
    rows.iter().any(|row| cells.iter().all(|want| row.iter().any(|c| c == want)))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `hay` not as part of a longer identifier.
fn contains_word(hay: &str, word: &str) -> bool {
    hay.match_indices(word).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + word.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_/{}@.-".contains(c)
}

/// Whether `hay` contains `METHOD /path` with nothing glued to either end.
fn contains_route(hay: &str, route: &str) -> bool {
    hay.match_indices(route).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + route.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(is_path_char)
    })
}

// ---------------------------------------------------------------- protocol.md

#[test]
fn every_op_has_a_table_row_with_its_number_name_and_direction() {
    let rows = table_rows(&protocol_md());
    let missing: Vec<String> = Op::ALL
        .iter()
        .filter(|op| !has_row_with(&rows, &[&(**op as u8).to_string(), op.name(), op.direction().as_doc()]))
        .map(|op| {
            format!("op {} {} {} (need a table row with all three)", *op as u8, op.name(), op.direction().as_doc())
        })
        .collect();
    report("ops", "docs/protocol.md", &missing);
}

#[test]
fn every_close_code_has_a_table_row_with_its_number_name_and_reconnect_advice() {
    let rows = table_rows(&protocol_md());
    let missing: Vec<String> = CloseCode::ALL
        .iter()
        .filter_map(|c| {
            let code = c.code().to_string();
            let name = c.name();
            let advice = if c.may_reconnect() { "yes" } else { "no" };
            if has_row_with(&rows, &[&code, name, advice]) {
                return None;
            }
            let why = if has_row_with(&rows, &[&code]) {
                format!("the row must also name `{name}` and say `{advice}` (may_reconnect)")
            } else {
                "no table row has this number".to_string()
            };
            Some(format!("close code {code} {name}: {why}"))
        })
        .collect();
    report("close codes", "docs/protocol.md", &missing);
}

#[test]
fn every_event_has_a_row_in_the_dispatch_events_table() {
    let doc = protocol_md();
    let table = section(&doc, "## Dispatch events");
    let rows = table_rows(table);
    let missing: Vec<String> = EVENTS
        .iter()
        .filter(|(name, _)| !rows.iter().any(|r| r.first().is_some_and(|c| c == name)))
        .map(|(name, what)| format!("dispatch event {name} ({what})"))
        .collect();
    report("event names", "docs/protocol.md, Dispatch events", &missing);
    // And the table lists no event the server does not send.
    let extra: Vec<String> = rows
        .iter()
        .filter_map(|r| r.first())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') && !c.is_empty())
        .filter(|c| !EVENT_NAMES.contains(&c.as_str()))
        .map(|c| format!("{c} is documented but not an event the server sends"))
        .collect();
    report("event names", "docs/protocol.md, Dispatch events", &extra);
}

/// The text of a Markdown section: from its heading to the next heading of the same level.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no section {heading}")) + 1;
    let level = heading.split(' ').next().unwrap_or("##");
    let body = &doc[start + heading.len()..];
    let end = body.find(&format!("\n{level} ")).map_or(doc.len(), |i| start + heading.len() + i);
    &doc[start..end]
}

/// Files whose `pub const` items are documented limits: the wire protocol's,
/// the records', the store writer's and the actors' tuning.
const LIMIT_FILES: &[&str] =
    &["src/protocol/limits.rs", "src/model/limits.rs", "src/store/limits.rs", "src/actors/limits.rs"];

/// `pub const NAME` items of [`LIMIT_FILES`], from the source text, with their file.
fn limit_names() -> Vec<(String, &'static str)> {
    let mut names = Vec::new();
    for file in LIMIT_FILES {
        let src = read(file);
        let found: Vec<(String, &'static str)> = src
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("pub const "))
            .map(|rest| (rest.chars().take_while(|c| is_ident_char(*c)).collect::<String>(), *file))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        assert!(!found.is_empty(), "found no `pub const` items in {file}; the parser in this test needs updating");
        names.extend(found);
    }
    names
}

#[test]
fn every_limit_is_documented_by_name() {
    // Operators' settings (the storage cache) are documented where operators read.
    let docs = [protocol_md(), api_md(), operations_md()];
    let missing: Vec<String> = limit_names()
        .into_iter()
        .filter(|(n, _)| !docs.iter().any(|d| contains_word(d, n)))
        .map(|(n, file)| format!("limit {n} ({file}) appears in none of the docs"))
        .collect();
    report("limits", "docs/protocol.md / docs/api.md / docs/operations.md", &missing);
}

#[test]
fn every_rate_limit_rule_has_a_table_row_with_its_burst() {
    let (protocol, api) = (protocol_md(), api_md());
    let rows: Vec<Vec<String>> = table_rows(&protocol).into_iter().chain(table_rows(&api)).collect();
    let mut missing: Vec<String> = hearth::ratelimit::RULES
        .iter()
        .filter(|r| !has_row_with(&rows, &[r.name, &r.burst.to_string()]))
        .map(|r| format!("rate limit rule {} (burst {}, refill every {:?})", r.name, r.burst, r.every))
        .collect();
    if !contains_word(&protocol, "GATEWAY_STRIKES") {
        missing.push("GATEWAY_STRIKES (src/ratelimit.rs)".to_string());
    }
    report("rate limits", "docs/protocol.md / docs/api.md", &missing);
}

// --------------------------------------------------------------------- api.md

#[test]
fn every_error_code_has_a_table_row_with_its_status() {
    let rows = table_rows(&api_md());
    let missing: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|c| !has_row_with(&rows, &[c.as_str(), &c.status().to_string()]))
        .map(|c| format!("error code {c} with status {}", c.status()))
        .collect();
    report("error codes", "docs/api.md", &missing);
}

#[test]
fn every_permission_has_a_table_row_with_its_bit_and_value() {
    let rows = table_rows(&api_md());
    let missing: Vec<String> = Permissions::FLAGS
        .iter()
        .filter_map(|(name, flag)| {
            let bit = flag.bits().trailing_zeros().to_string();
            let value = flag.bits().to_string();
            (!has_row_with(&rows, &[name, &bit, &value]))
                .then(|| format!("permission {name} (bit {bit}, value {value})"))
        })
        .collect();
    report("permissions", "docs/api.md", &missing);
}

/// A route registered with `.route("PATH", web::METHOD()...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    method: String,
    path: String,
    file: String,
}

impl Route {
    fn doc_form(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Modules whose routes are mounted at the root rather than under /api/v1.
const ROOT_MODULES: &[&str] = &["mod.rs", "meta.rs", "gateway.rs", "web_client.rs"];

/// Parse the `.route("PATH", web::METHOD()` calls of one source file. The
/// call may be spread over several lines.
fn parse_routes(src: &str, file: &str, prefix: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for (i, _) in src.match_indices(".route(") {
        let rest = src[i + ".route(".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        let Some(end) = rest.find('"') else { continue };
        let path = &rest[..end];
        let rest = rest[end + 1..].trim_start();
        let Some(rest) = rest.strip_prefix(',') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("web::") else {
            continue;
        };
        let method: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        if method.is_empty() || !rest[method.len()..].starts_with("()") {
            continue;
        }
        out.push(Route {
            method: method.to_ascii_uppercase(),
            path: format!("{prefix}{path}"),
            file: file.to_string(),
        });
    }
    out
}

fn registered_routes() -> Vec<Route> {
    let dir = root().join("src/http");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let mut routes = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let prefix = if ROOT_MODULES.contains(&name.as_str()) { "" } else { "/api/v1" };
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
        routes.extend(parse_routes(&src, &format!("src/http/{name}"), prefix));
    }
    assert!(
        routes.len() >= 20,
        "found only {} routes in src/http/*.rs; the parser in this test needs updating",
        routes.len()
    );
    for sanity in ["POST /api/v1/auth/login", "GET /gateway", "GET /healthz"] {
        assert!(
            routes.iter().any(|r| r.doc_form() == sanity),
            "route parser did not find `{sanity}`; it needs updating"
        );
    }
    routes
}

#[test]
fn every_registered_route_is_documented() {
    let doc = api_md();
    let missing: Vec<String> = registered_routes()
        .into_iter()
        .filter(|r| !contains_route(&doc, &r.doc_form()))
        .map(|r| format!("`{}` (registered in {})", r.doc_form(), r.file))
        .collect();
    report("routes", "docs/api.md", &missing);
}

#[test]
fn every_documented_route_heading_exists() {
    let routes: Vec<String> = registered_routes().iter().map(Route::doc_form).collect();
    let doc = api_md();
    let stale: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.strip_suffix('`'))
        .filter(|h| {
            h.split_once(' ').is_some_and(|(m, p)| m.chars().all(|c| c.is_ascii_uppercase()) && p.starts_with('/'))
        })
        .filter(|h| !routes.iter().any(|r| r == h))
        .map(|h| format!("`{h}` is documented but not registered in src/http"))
        .collect();
    report("routes", "docs/api.md", &stale);
}

// ------------------------------------------------------- the checks themselves

#[test]
fn helpers_catch_what_they_should() {
    // Words and routes must not match inside longer ones.
    assert!(contains_word("a `READY` b", "READY"));
    assert!(!contains_word("MAX_FRAME_BYTES_X", "MAX_FRAME_BYTES"));
    assert!(contains_route("| `GET /api/v1/guilds/{id}` |", "GET /api/v1/guilds/{id}"));
    assert!(!contains_route("`GET /api/v1/guilds/{id}/members`", "GET /api/v1/guilds/{id}"));
    // Table rows: cells compared whole.
    let rows = table_rows("| 4021 | `SlowConsumer` | text | yes |\n| 40 | `SEND_MESSAGE` |");
    assert!(has_row_with(&rows, &["4021", "SlowConsumer", "yes"]));
    assert!(!has_row_with(&rows, &["4021", "SlowConsumer", "no"]));
    assert!(!has_row_with(&rows, &["4", "SEND_MESSAGE"]));
    // Multi-line route registrations are found, with the right prefix.
    let src = r#"cfg.route("/a", web::get().to(x))
        .route(
            "/b/{id}",
            web::delete().to(y),
        );"#;
    let got: Vec<String> = parse_routes(src, "t.rs", "/api/v1").iter().map(Route::doc_form).collect();
    assert_eq!(got, ["GET /api/v1/a", "DELETE /api/v1/b/{id}"]);
    assert!(Path::new(&root().join("docs")).is_dir());
}
