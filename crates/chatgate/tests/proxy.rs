//! The proxy against the real server and a real upstream started by the test: everything is
//! forwarded, the caller's identity is added, the upstream's answer comes back unchanged, and the
//! proxy's own failures answer `{detail}`.

mod common;
mod outside;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use common::{TestServer, token};
use outside::{Log, Seen};
use serde_json::json;

/// An upstream that records every request and answers what the path asks for.
async fn upstream() -> (String, Log) {
    async fn record(
        State(log): State<Log>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        log.push(Seen { method: method.clone(), uri: uri.clone(), headers, body: body.clone() });
        let echo = json!({"method": method.as_str(), "path": uri.path(), "query": uri.query(), "bodyLength": body.len()});
        (StatusCode::OK, [("x-upstream", "yes")], axum::Json(echo)).into_response()
    }
    async fn teapot() -> Response {
        (StatusCode::IM_A_TEAPOT, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "short and stout")
            .into_response()
    }
    async fn problem() -> Response {
        let body = json!({"error": "order rejected", "code": 42});
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/vnd.trading+json")],
            body.to_string(),
        )
            .into_response()
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    }
    let log = Log::default();
    let router = Router::new()
        .route("/base/teapot", get(teapot))
        .route("/base/problem", any(problem))
        .route("/base/slow", get(slow))
        .fallback(any(record))
        .with_state(log.clone());
    (outside::serve(router).await, log)
}

async fn proxied() -> (TestServer, Log) {
    let (base, log) = upstream().await;
    let services = format!("trading={base}/base,gone={}", outside::refusing_address());
    let server = TestServer::start_with(&[
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
        "--proxy-services",
        &services,
        "--proxy-timeout-ms",
        "1000",
    ]);
    (server, log)
}

fn detail_of(r: &common::Reply, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["detail"], "{body}");
    body["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_method_is_forwarded_with_its_body_query_headers_and_the_callers_identity() {
    let (server, log) = proxied().await;
    let alice = common::token_in("acme", "alice", "agent");
    let mut n = 0;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let body = (method != "GET")
            .then(|| json!({"ids": ["order-1", "order-2"], "method": method}).to_string().into_bytes());
        let r = server
            .request(
                method,
                "/api/proxy/trading/api/orders/bulk%20items?symbol=VNM&side=buy",
                Some(&alice),
                body.clone(),
                &[("x-trace-id", "abc-123"), ("idempotency-key", "k-1"), ("x-user-id", "mallory")],
            )
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        assert_eq!(r.header("x-upstream"), Some("yes"), "upstream headers come back");
        let echo = r.json();
        assert_eq!(echo["method"], method);
        assert_eq!(echo["path"], "/base/api/orders/bulk%20items");
        assert_eq!(echo["query"], "symbol=VNM&side=buy");
        n += 1;
        let seen = log.wait_for(n, Duration::from_secs(5)).await;
        let got = seen.last().unwrap();
        assert_eq!(got.method.as_str(), method);
        assert_eq!(got.body.as_ref(), body.as_deref().unwrap_or_default(), "{method} body");
        assert_eq!(got.header("x-trace-id"), Some("abc-123"));
        assert_eq!(got.header("idempotency-key"), Some("k-1"));
        assert_eq!(got.header("x-user-id"), Some("alice"), "the caller cannot choose its identity");
        assert_eq!(got.header("x-user-tenant"), Some("acme"));
        assert_eq!(got.header("x-user-role"), Some("agent"));
        assert_eq!(got.header("authorization"), None, "chatgate's token stays with chatgate");
        if body.is_some() {
            assert_eq!(got.header("content-type"), Some("application/json"));
        }
    }
}

#[tokio::test]
async fn the_upstreams_answers_come_back_unchanged_errors_included() {
    let (server, _) = proxied().await;
    let user = token("ben", "user");
    let r = server.get("/api/proxy/trading/teapot", &user).await;
    assert_eq!(r.status, 418);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "short and stout");

    let r = server.post("/api/proxy/trading/problem", &user, json!({"symbol": "VNM"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.header("content-type"), Some("application/vnd.trading+json"));
    assert_eq!(r.json(), json!({"error": "order rejected", "code": 42}));
}

#[tokio::test]
async fn the_proxys_own_failures_answer_detail() {
    let (server, log) = proxied().await;
    let user = token("cy", "user");
    let unknown = server.get("/api/proxy/nowhere/api/x", &user).await;
    assert!(detail_of(&unknown, 404).contains("nowhere"));
    let down = server.get("/api/proxy/gone/api/x", &user).await;
    assert!(detail_of(&down, 502).contains("gone"));
    let started = std::time::Instant::now();
    let slow = server.get("/api/proxy/trading/slow", &user).await;
    assert!(detail_of(&slow, 504).contains("trading"));
    assert!(started.elapsed() < Duration::from_secs(4), "answered at the configured timeout");
    let other_method = server.request("OPTIONS", "/api/proxy/trading/x", Some(&user), None, &[]).await;
    detail_of(&other_method, 405);
    let escape = server.get("/api/proxy/trading/../../secret", &user).await;
    assert!(escape.status == 400 || escape.status == 404, "{}", escape.text());

    // Without a token nothing is forwarded.
    let before = log.len();
    let r = server.request("GET", "/api/proxy/trading/api/x", None, None, &[]).await;
    r.problem(401, "Unauthorized");
    assert_eq!(log.len(), before);
}
