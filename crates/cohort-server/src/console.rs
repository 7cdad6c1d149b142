//! The operator's web console: a static single-page app compiled into the
//! binary (no CDN, no separate front-end server), served at `/console/`.
//! The pages call the same admin API as every other client with the key the
//! operator logs in with, so the console can show nothing the key could not
//! fetch itself. See `docs/console.md`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Every console file: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("../console/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../console/app.js")),
    ("engage.js", "text/javascript; charset=utf-8", include_bytes!("../console/engage.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../console/app.css")),
    ("echarts.min.js", "text/javascript; charset=utf-8", include_bytes!("../console/vendor/echarts.min.js")),
];

/// `/` and `/console` lead to the console; `/console/{file}` serves it.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/console/") }))
        .route("/console", get(|| async { Redirect::temporary("/console/") }))
        .route("/console/", get(|| async { asset("index.html") }))
        .route("/console/{file}", get(|Path(file): Path<String>| async move { asset(&file) }))
}

fn asset(name: &str) -> Response {
    // Front-end work without rebuilding: serve the files from a folder.
    if let Some(dir) = std::env::var_os("COHORT_CONSOLE_DIR") {
        let path =
            std::path::Path::new(&dir).join(if name == "echarts.min.js" { "vendor/echarts.min.js" } else { name });
        if let (Some((_, kind, _)), Ok(bytes)) = (ASSETS.iter().find(|(n, _, _)| *n == name), std::fs::read(path)) {
            return ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "no-cache")], bytes).into_response();
        }
    }
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        // Assets change only with the binary; pages re-validate on each load.
        Some((_, kind, bytes)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}
