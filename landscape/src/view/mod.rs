//! # view: one self-contained interactive HTML page of results files
//!
//! [`page`] writes a page with everything inline (script, style, data), so
//! it opens from a file with no network: a rotatable, zoomable shaded 3-D
//! surface, a contour view, a linear/log toggle and a hover readout for 2-D
//! results; an interactive line chart for 1-D results. Several results are
//! drawn side by side with one value scale and one camera. A
//! Content-Security-Policy forbids the page any request.
//!
//! The script (`viewer.js`) and style (`style.css`) are real files next to
//! this one, embedded at compile time.

mod data;

use crate::error::{LandscapeError, Result};
use crate::render::ZScale;
use crate::results::Results;
use serde_json::json;
use std::path::Path;

const SCRIPT: &str = include_str!("viewer.js");
const STYLE: &str = include_str!("style.css");

/// What the page shows first (the reader can change all of it on the page).
#[derive(Clone, Debug, PartialEq)]
pub struct ViewOptions {
    /// Page title and heading.
    pub title: String,
    /// Metric drawn first; default: the first loss metric.
    pub metric: Option<String>,
    /// Value scale drawn first; `Auto` is log when the values are positive and span two decades.
    pub scale: ZScale,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions { title: "llv: loss landscape".into(), metric: None, scale: ZScale::Auto }
    }
}

/// Reads a results file (or a folder's `surface.jsonl`) and names it: the
/// folder for `DIR/surface.jsonl`, else the path as given. A partial last
/// line (a run still computing, or killed) is left out: the page shows the
/// points done so far.
pub fn load(path: &Path) -> Result<(String, Results)> {
    let file = if path.is_dir() { path.join("surface.jsonl") } else { path.to_path_buf() };
    let (r, _) = Results::read(&file, true)?;
    let name = if file.file_name().is_some_and(|n| n == "surface.jsonl") {
        file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).display().to_string()
    } else {
        file.display().to_string()
    };
    Ok((name, r))
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page for `results` (named, in panel order) as one HTML string.
/// Errors: no results, or a `metric` some results file lacks (named).
pub fn page(results: &[(&str, &Results)], opts: &ViewOptions) -> Result<String> {
    let first = results.first().ok_or_else(|| LandscapeError::Invalid("view: no results to show".into()))?;
    let metric = match &opts.metric {
        Some(m) => m.clone(),
        None => first.1.metrics.iter().find(|m| m.ends_with("_loss")).or(first.1.metrics.first()).cloned().unwrap_or_default(),
    };
    for (name, r) in results {
        if !r.metrics.contains(&metric) {
            return Err(LandscapeError::config("metric", format!("{metric}: {name} has no such metric (it has {})", r.metrics.join(", "))));
        }
    }
    let scale = match opts.scale {
        ZScale::Auto => "auto",
        ZScale::Linear => "linear",
        ZScale::Log => "log",
    };
    let data = json!({
        "title": opts.title,
        "metric": metric,
        "scale": scale,
        "results": results.iter().map(|(name, r)| data::results_json(name, r)).collect::<Vec<_>>(),
    });
    // JSON never needs a raw '<'; escaping it keeps "</script>" in a name from ending the block.
    let data = data.to_string().replace('<', "\\u003c");
    let title = escape_html(&opts.title);
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<div id=\"controls\"></div>\n<div id=\"panels\"></div>\n\
<p class=\"help\">Drag to rotate, wheel to zoom, hover for values; several results share one scale and one camera. \
Made by <code>llv view</code>; everything is in this file.</p>\n\
<script type=\"application/json\" id=\"llv-data\">{data}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn one() -> Results {
        let mut points = BTreeMap::new();
        points.insert(0, (0.0, 0.0, vec![1.25, 0.5]));
        let plan = crate::plan::Plan { x: "0:1:2".parse().unwrap(), y: None, ..crate::plan::tests::slice_plan() };
        Results { plan, metrics: vec!["test_loss".into(), "test_accuracy".into()], points }
    }

    #[test]
    fn page_is_self_contained_and_escapes_names() {
        let r = one();
        let html = page(&[("a</script><b>", &r)], &ViewOptions { title: "t & <u>".into(), ..ViewOptions::default() }).unwrap();
        assert!(html.contains("<title>t &amp; &lt;u&gt;</title>"));
        assert!(html.contains("a\\u003c/script>\\u003cb>"), "a name cannot close the data block");
        assert_eq!(html.matches("</script>").count(), 2, "only the two script blocks close");
        assert!(html.contains("\"metric\":\"test_loss\""));
        assert!(!html.contains("http://") && !html.contains("https://"), "no URL: the page loads nothing");
        assert!(!html.contains("<script src") && !html.contains("<link rel=\"stylesheet\""));
    }

    #[test]
    fn errors_name_the_results_and_the_metric() {
        let r = one();
        assert!(page(&[], &ViewOptions::default()).unwrap_err().to_string().contains("no results"));
        let opts = ViewOptions { metric: Some("train_loss".into()), ..ViewOptions::default() };
        let e = page(&[("runs/a", &r)], &opts).unwrap_err().to_string();
        assert!(e.contains("runs/a") && e.contains("train_loss") && e.contains("test_accuracy"), "{e}");
    }
}
