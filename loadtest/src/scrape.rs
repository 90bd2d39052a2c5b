//! Reading a few of the server's gauges from its `/metrics` (the soak samples
//! store size, cache, replay and outbound bytes this way).

use std::time::Duration;

/// A `/metrics` reader.
pub struct Scraper {
    client: reqwest::Client,
    url: String,
}

impl Scraper {
    /// Read from `url` (e.g. `http://127.0.0.1:8080/metrics`).
    pub fn new(url: String) -> anyhow::Result<Scraper> {
        Ok(Scraper { client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?, url })
    }

    /// The scrape's text, or None if the server did not answer.
    pub async fn get(&self) -> Option<String> {
        let r = self.client.get(&self.url).send().await.ok()?;
        r.status().is_success().then_some(())?;
        r.text().await.ok()
    }
}

/// The sum of every series of metric `name` (all label sets) in a scrape;
/// None if it has none.
pub fn value(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else { continue };
        // The name must end here: a space or a label set follows.
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else { continue };
        found = Some(found.unwrap_or(0.0) + v);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::value;

    #[test]
    fn values_sum_label_sets_and_names_match_whole() {
        let text = "# HELP hearth_replay_bytes x\n# TYPE hearth_replay_bytes gauge\n\
                    hearth_replay_bytes{state=\"attached\"} 100\nhearth_replay_bytes{state=\"detached\"} 20\n\
                    hearth_replay_bytes_total 5\nhearth_store_file_bytes 1.5e6\n";
        assert_eq!(value(text, "hearth_replay_bytes"), Some(120.0));
        assert_eq!(value(text, "hearth_store_file_bytes"), Some(1.5e6));
        assert_eq!(value(text, "hearth_replay"), None);
        assert_eq!(value(text, "missing"), None);
    }
}
