//! Rich embeds: a card of title, description, fields, author, footer and
//! image links under a message. The server only stores and checks them; it
//! never fetches the URLs they carry.

use serde::{Deserialize, Serialize};

use super::limits::*;
use super::validate::Invalid;

/// A rich embed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Embed {
    /// Title (a link when `url` is set).
    #[serde(default)]
    pub title: Option<String>,
    /// Body text (the client's markdown).
    #[serde(default)]
    pub description: Option<String>,
    /// Where the title links to.
    #[serde(default)]
    pub url: Option<String>,
    /// Left border colour, RGB.
    #[serde(default)]
    pub color: Option<u32>,
    /// Unix ms shown in the footer.
    #[serde(default)]
    pub timestamp: Option<u64>,
    /// Footer line.
    #[serde(default)]
    pub footer: Option<EmbedFooter>,
    /// A large image.
    #[serde(default)]
    pub image: Option<EmbedImage>,
    /// A small image beside the text.
    #[serde(default)]
    pub thumbnail: Option<EmbedImage>,
    /// Author line above the title.
    #[serde(default)]
    pub author: Option<EmbedAuthor>,
    /// Name/value fields.
    #[serde(default)]
    pub fields: Vec<EmbedField>,
}

/// An embed's footer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbedFooter {
    /// Text.
    pub text: String,
    /// Small icon URL.
    #[serde(default)]
    pub icon_url: Option<String>,
}

/// An embed's image or thumbnail.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbedImage {
    /// Image URL.
    pub url: String,
}

/// An embed's author line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbedAuthor {
    /// Name.
    pub name: String,
    /// Link.
    #[serde(default)]
    pub url: Option<String>,
    /// Small icon URL.
    #[serde(default)]
    pub icon_url: Option<String>,
}

/// One name/value field of an embed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbedField {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: String,
    /// Shown beside the neighbouring inline fields.
    #[serde(default)]
    pub inline: bool,
}

fn bad(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid { field, reason: reason.into() }
}

/// Trim a text part and check it is 1–`max` characters; counts it into `total`.
fn text(field: &'static str, s: &mut String, max: usize, total: &mut usize) -> Result<(), Invalid> {
    let t = s.trim();
    if t.len() != s.len() {
        *s = t.to_string();
    }
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(bad(field, format!("must be 1–{max} characters (got {n})")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(bad(field, "must not contain control characters"));
    }
    *total += n;
    Ok(())
}

fn opt_text(field: &'static str, s: &mut Option<String>, max: usize, total: &mut usize) -> Result<(), Invalid> {
    match s {
        Some(v) => text(field, v, max, total),
        None => Ok(()),
    }
}

/// An absolute http(s) URL of at most `MAX_EMBED_URL_BYTES` bytes.
fn link(field: &'static str, s: &Option<String>) -> Result<(), Invalid> {
    let Some(s) = s else { return Ok(()) };
    if s.len() > MAX_EMBED_URL_BYTES {
        return Err(bad(field, format!("must be at most {MAX_EMBED_URL_BYTES} bytes")));
    }
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(bad(field, "must be an absolute http or https URL")),
    }
}

/// Check and tidy (trim) the embeds of a message: at most
/// `MAX_EMBEDS_PER_MESSAGE`, each part within its limit, all text together
/// within `MAX_EMBED_TOTAL_CHARS`, links absolute http(s), colours RGB.
pub fn check(embeds: &mut [Embed]) -> Result<(), Invalid> {
    if embeds.len() > MAX_EMBEDS_PER_MESSAGE {
        return Err(bad("embeds", format!("at most {MAX_EMBEDS_PER_MESSAGE} per message")));
    }
    let mut total = 0;
    for e in embeds.iter_mut() {
        opt_text("embeds.title", &mut e.title, MAX_EMBED_TITLE_CHARS, &mut total)?;
        opt_text("embeds.description", &mut e.description, MAX_EMBED_DESCRIPTION_CHARS, &mut total)?;
        link("embeds.url", &e.url)?;
        if e.color.is_some_and(|c| c > 0xFF_FFFF) {
            return Err(bad("embeds.color", "must be an RGB value 0–16777215"));
        }
        if let Some(f) = &mut e.footer {
            text("embeds.footer.text", &mut f.text, MAX_EMBED_FOOTER_CHARS, &mut total)?;
            link("embeds.footer.icon_url", &f.icon_url)?;
        }
        for img in [&e.image, &e.thumbnail].into_iter().flatten() {
            link("embeds.image.url", &Some(img.url.clone()))?;
        }
        if let Some(a) = &mut e.author {
            text("embeds.author.name", &mut a.name, MAX_EMBED_AUTHOR_CHARS, &mut total)?;
            link("embeds.author.url", &a.url)?;
            link("embeds.author.icon_url", &a.icon_url)?;
        }
        if e.fields.len() > MAX_EMBED_FIELDS {
            return Err(bad("embeds.fields", format!("at most {MAX_EMBED_FIELDS} per embed")));
        }
        for f in e.fields.iter_mut() {
            text("embeds.fields.name", &mut f.name, MAX_EMBED_FIELD_NAME_CHARS, &mut total)?;
            text("embeds.fields.value", &mut f.value, MAX_EMBED_FIELD_VALUE_CHARS, &mut total)?;
        }
        let empty = e.title.is_none()
            && e.description.is_none()
            && e.fields.is_empty()
            && e.image.is_none()
            && e.thumbnail.is_none()
            && e.author.is_none()
            && e.footer.is_none();
        if empty {
            return Err(bad("embeds", "an embed needs a title, description, field, author, footer or image"));
        }
    }
    if total > MAX_EMBED_TOTAL_CHARS {
        return Err(bad(
            "embeds",
            format!("all embed text together must be at most {MAX_EMBED_TOTAL_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titled(t: &str) -> Embed {
        Embed { title: Some(t.into()), ..Default::default() }
    }

    #[test]
    fn a_simple_embed_passes_trimmed() {
        let mut v = vec![titled("  Server up  ")];
        v[0].url = Some("https://example.org/status".into());
        v[0].color = Some(0x00FF00);
        v[0].fields.push(EmbedField { name: "players".into(), value: "12".into(), inline: true });
        check(&mut v).unwrap();
        assert_eq!(v[0].title.as_deref(), Some("Server up"));
    }

    #[test]
    fn limits_are_enforced() {
        assert!(check(&mut [titled(&"x".repeat(MAX_EMBED_TITLE_CHARS + 1))]).is_err());
        assert!(check(&mut [titled("")]).is_err());
        assert!(check(&mut [Embed::default()]).is_err(), "empty embed");
        let mut many = vec![titled("t"); MAX_EMBEDS_PER_MESSAGE + 1];
        assert!(check(&mut many).is_err());
        let mut e = titled("t");
        e.fields = vec![EmbedField { name: "n".into(), value: "v".into(), inline: false }; MAX_EMBED_FIELDS + 1];
        assert!(check(&mut [e]).is_err());
        let mut e = titled("t");
        e.color = Some(0x1_000_000);
        assert!(check(&mut [e]).is_err());
        // Each description fits, together they do not.
        let d = Embed { description: Some("d".repeat(4000)), ..Default::default() };
        assert!(check(&mut [d.clone()]).is_ok());
        assert_eq!(check(&mut [d.clone(), d]).unwrap_err().field, "embeds");
    }

    #[test]
    fn links_must_be_absolute_http() {
        for bad_url in ["javascript:alert(1)", "/relative", "file:///etc/passwd", "data:text/html,x", "https://"] {
            let mut e = titled("t");
            e.url = Some(bad_url.into());
            assert!(check(&mut [e]).is_err(), "{bad_url}");
        }
        let mut e = titled("t");
        e.image = Some(EmbedImage { url: "ftp://x.org/a.png".into() });
        assert!(check(&mut [e]).is_err());
        let mut e = titled("t");
        e.thumbnail = Some(EmbedImage { url: "http://x.org/a.png".into() });
        assert!(check(&mut [e]).is_ok());
    }
}
