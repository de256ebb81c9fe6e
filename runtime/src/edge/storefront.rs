//! The storefront page: the shoppers' page (`runtime/storefront/`: one
//! HTML file, a script and a stylesheet, no build step) compiled into the
//! binary and served by the edge itself at `/` and `/storefront/<file>`.
//! It talks to the same `/api/v1` paths through the edge as any client.
//!
//! Each file is answered with its `Content-Type`, a strong `ETag` (a hash
//! of its bytes, so a new build changes it and a client's `If-None-Match`
//! gets 304), `Cache-Control: public, max-age=300` and a
//! `Content-Security-Policy` that allows only this origin's script, style
//! and API: the page builds its DOM from text, never from product data as
//! HTML. The page names its script and stylesheet with their hash in the
//! query (`/storefront/app.js?v=…`), so a new build is picked up at once
//! rather than after the five minutes.
//!
//! The operator turns it off with `[edge] storefront = false`; those paths
//! then go to the routes like any other.

use std::sync::LazyLock;

use axum::body::Body;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::proxy;

/// Where the page's own files live.
pub const PREFIX: &str = "/storefront/";

const CACHE_CONTROL: &str = "public, max-age=300";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
    etag: HeaderValue,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: Vec<u8>) -> Self {
        let digest = Sha256::digest(&bytes);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
            .expect("a hex ETag is a valid header value");
        Self {
            name,
            content_type,
            bytes,
            etag,
        }
    }

    /// The first characters of the hash, for a `?v=` in the page.
    fn version(&self) -> &str {
        let tag = self.etag.to_str().expect("built from hex");
        &tag[1..13]
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    let js = Asset::new(
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../storefront/app.js").to_vec(),
    );
    let css = Asset::new(
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../storefront/app.css").to_vec(),
    );
    let html = include_str!("../../storefront/index.html")
        .replace(
            "/storefront/app.js\"",
            &format!("/storefront/app.js?v={}\"", js.version()),
        )
        .replace(
            "/storefront/app.css\"",
            &format!("/storefront/app.css?v={}\"", css.version()),
        );
    let html = Asset::new("index.html", "text/html; charset=utf-8", html.into_bytes());
    [html, js, css]
});

/// Whether `path` is the storefront's: `/` or under [`PREFIX`].
pub fn is_storefront_path(path: &str) -> bool {
    path == "/" || path.starts_with(PREFIX)
}

/// Answers a request for one of [`is_storefront_path`]'s paths.
pub fn serve<B>(request: &http::Request<B>) -> Response {
    let path = request.uri().path();
    let name = if path == "/" {
        "index.html"
    } else {
        path.strip_prefix(PREFIX).unwrap_or(path)
    };
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return proxy::error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("the storefront has no file `{name}`"),
        );
    };
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let mut response = proxy::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("{path} answers GET and HEAD"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let not_modified = if_none_match(request.headers(), &asset.etag);
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if method == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(asset.bytes.as_slice()))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    if !not_modified {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.bytes.len()));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.name == "index.html" {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}

/// RFC 9110 §13.1.2: a list of entity tags or `*`, compared weakly.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        value.to_str().is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
        })
    })
}

#[cfg(test)]
mod tests {
    use axum::extract::Request;

    use super::*;
    use http_body_util::BodyExt;

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).expect("request")
    }

    async fn body(response: Response) -> Vec<u8> {
        response.into_body().collect().await.expect("body").to_bytes().to_vec()
    }

    #[tokio::test]
    async fn each_file_has_its_type_a_strong_etag_and_five_minutes() {
        for (path, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/storefront/index.html", "text/html; charset=utf-8"),
            ("/storefront/app.js", "text/javascript; charset=utf-8"),
            ("/storefront/app.css", "text/css; charset=utf-8"),
        ] {
            let response = serve(&get(path, &[]));
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers().clone();
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300", "{path}");
            let etag = headers[header::ETAG].to_str().expect("ascii").to_owned();
            assert!(
                etag.starts_with('"') && !etag.starts_with("W/") && etag.len() == 34,
                "{etag}"
            );
            let bytes = body(response).await;
            assert_eq!(headers[header::CONTENT_LENGTH], bytes.len().to_string().as_str());
            let digest = Sha256::digest(&bytes);
            assert_eq!(
                etag,
                format!("\"{}\"", hex::encode(&digest[..16])),
                "{path}: the hash of the bytes"
            );
        }
    }

    #[tokio::test]
    async fn the_page_names_its_files_by_version_and_builds_no_html_from_data() {
        let page = String::from_utf8(body(serve(&get("/", &[]))).await).expect("utf-8");
        let js = ASSETS[1].version().to_owned();
        let css = ASSETS[2].version().to_owned();
        assert!(page.contains(&format!("/storefront/app.js?v={js}\"")), "{page}");
        assert!(page.contains(&format!("/storefront/app.css?v={css}\"")), "{page}");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external resources"
        );
        let script = std::str::from_utf8(&ASSETS[1].bytes).expect("utf-8");
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "app.js uses {sink}");
        }
    }

    #[tokio::test]
    async fn a_matching_if_none_match_is_304_and_head_has_no_body() {
        let etag = serve(&get("/storefront/app.js", &[])).headers()[header::ETAG]
            .to_str()
            .expect("ascii")
            .to_owned();
        for presented in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".into(),
        ] {
            let response = serve(&get("/storefront/app.js", &[("if-none-match", &presented)]));
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{presented}");
            assert_eq!(response.headers()[header::ETAG], etag.as_str());
            assert!(body(response).await.is_empty());
        }
        let response = serve(&get("/storefront/app.js", &[("if-none-match", "\"other\"")]));
        assert_eq!(response.status(), StatusCode::OK);

        let head = Request::builder()
            .method(Method::HEAD)
            .uri("/")
            .body(Body::empty())
            .expect("request");
        let response = serve(&head);
        assert_eq!(response.status(), StatusCode::OK);
        assert_ne!(response.headers()[header::CONTENT_LENGTH], "0");
        assert!(body(response).await.is_empty());
    }

    #[tokio::test]
    async fn unknown_files_are_404_and_writes_405() {
        for path in ["/storefront/", "/storefront/secret.txt", "/storefront/../Cargo.toml"] {
            assert_eq!(serve(&get(path, &[])).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let post = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::empty())
            .expect("request");
        let response = serve(&post);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn only_the_root_and_the_prefix_are_the_storefronts() {
        assert!(is_storefront_path("/"));
        assert!(is_storefront_path("/storefront/app.js"));
        assert!(!is_storefront_path("/storefront"));
        assert!(!is_storefront_path("/api/v1/categories"));
        assert!(!is_storefront_path("/healthz"));
    }
}
