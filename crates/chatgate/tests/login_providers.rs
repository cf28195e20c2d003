//! Google and DsAccount logins against the real server, with a key server and an introspection
//! endpoint started by the test. Google ID tokens are signed here with locally generated RSA
//! keys; every way a token can be wrong is refused.

mod common;
mod outside;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestServer;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

const CLIENT_ID: &str = "chatgate-test.apps.googleusercontent.com";

struct SigningKey {
    kid: String,
    private: RsaPrivateKey,
}

impl SigningKey {
    fn generate(kid: &str) -> SigningKey {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
        SigningKey { kid: kid.to_owned(), private }
    }

    fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_rsa_der(self.private.to_pkcs1_der().expect("DER").as_bytes())
    }

    /// An RS256 token with this key's id, signed by `signer` (normally itself).
    fn sign(&self, claims: &Value, signer: &SigningKey) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.encoding_key()).expect("sign")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn google_claims(sub: &str) -> Value {
    json!({
        "iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": sub,
        "email": format!("{sub}@example.com"), "email_verified": true, "name": format!("User {sub}"),
        "picture": format!("https://lh3.example.com/{sub}.png"), "iat": now(), "exp": now() + 3600,
    })
}

/// A key server whose key set the test can change; counts fetches.
async fn key_server(keys: Vec<Value>) -> (String, Arc<Mutex<Vec<Value>>>, Arc<Mutex<usize>>) {
    #[derive(Clone)]
    struct Keys {
        set: Arc<Mutex<Vec<Value>>>,
        fetches: Arc<Mutex<usize>>,
    }
    async fn certs(State(keys): State<Keys>) -> Response {
        *keys.fetches.lock().unwrap() += 1;
        let body = json!({"keys": keys.set.lock().unwrap().clone()});
        ([(header::CACHE_CONTROL, "public, max-age=3600")], axum::Json(body)).into_response()
    }
    let keys = Keys { set: Arc::new(Mutex::new(keys)), fetches: Arc::new(Mutex::new(0)) };
    let router = Router::new().route("/oauth2/v3/certs", get(certs)).with_state(keys.clone());
    (format!("{}/oauth2/v3/certs", outside::serve(router).await), keys.set, keys.fetches)
}

fn google_server(jwks_url: &str) -> TestServer {
    TestServer::start_with(&[
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
        "--google-client-id",
        CLIENT_ID,
        "--google-jwks-url",
        jwks_url,
    ])
}

async fn google_login(server: &TestServer, id_token: &str) -> common::Reply {
    let body = json!({"idToken": id_token}).to_string().into_bytes();
    server.request("POST", "/api/auth/google", None, Some(body), &[]).await
}

#[tokio::test]
async fn a_google_id_token_logs_in_and_creates_then_updates_the_participant() {
    let key = SigningKey::generate("key-a");
    let (jwks, _, fetches) = key_server(vec![key.jwk()]).await;
    let server = google_server(&jwks);

    let r = google_login(&server, &key.sign(&google_claims("1001"), &key)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let auth = r.json();
    assert_eq!(auth["user"]["id"], "google-1001");
    assert_eq!(auth["user"]["uniqueName"], "1001@example.com");
    assert_eq!(auth["user"]["fullName"], "User 1001");
    assert_eq!(auth["user"]["avatar"], "https://lh3.example.com/1001.png");
    assert_eq!(auth["user"]["role"], Value::Null, "seed 002: null for Google users");
    assert!(auth["expiresAt"].as_str().is_some());
    // chatgate's own token works on the API.
    let token = auth["token"].as_str().unwrap();
    let me = server.get("/api/participants/google-1001", token).await;
    assert_eq!(me.status, 200, "{}", me.text());

    // A later login refreshes the name; the key set was fetched once and cached.
    let mut claims = google_claims("1001");
    claims["name"] = json!("Renamed User");
    claims["iss"] = json!("accounts.google.com");
    let again = google_login(&server, &key.sign(&claims, &key)).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(server.get("/api/participants/google-1001", token).await.json()["fullName"], "Renamed User");
    assert_eq!(*fetches.lock().unwrap(), 1);
}

#[tokio::test]
async fn google_tokens_that_are_wrong_in_any_way_are_refused() {
    let key = SigningKey::generate("key-a");
    let stranger = SigningKey::generate("key-a");
    let (jwks, _, _) = key_server(vec![key.jwk()]).await;
    let server = google_server(&jwks);

    let with = |field: &str, value: Value| {
        let mut c = google_claims("2002");
        c[field] = value;
        c
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = google_claims("2002");
    let hs256 = |secret: &[u8]| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-a".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let public_pem_bytes = key.jwk()["n"].as_str().unwrap().as_bytes().to_vec();
    let unsigned =
        format!("{}.{}.", b64(&json!({"alg": "none", "kid": "key-a", "typ": "JWT"})), b64(&claims));
    let unknown_kid = SigningKey { kid: "key-z".into(), private: key.private.clone() };

    let cases: Vec<(&str, String)> = vec![
        ("wrong audience", key.sign(&with("aud", json!("someone-else.apps.googleusercontent.com")), &key)),
        ("wrong issuer", key.sign(&with("iss", json!("https://evil.example.com")), &key)),
        ("expired", key.sign(&with("exp", json!(now() - 3600)), &key)),
        ("bad signature", key.sign(&claims, &stranger)),
        ("unknown kid", unknown_kid.sign(&claims, &key)),
        ("alg none", unsigned),
        ("HS256", hs256(b"any secret")),
        ("HS256 keyed with the public key", hs256(&public_pem_bytes)),
        ("not a JWT", "definitely.not.a-token".to_owned()),
    ];
    for (case, token) in cases {
        let r = google_login(&server, &token).await;
        let problem = r.problem(401, "Unauthorized");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{case}");
    }
    // Nothing was created by the refused tokens.
    let user = common::token("look", "user");
    server.get("/api/participants/google-2002", &user).await.problem(404, "NotFound");
    // The genuine one still works.
    assert_eq!(google_login(&server, &key.sign(&claims, &key)).await.status, 200);
    server
        .request("POST", "/api/auth/google", None, Some(b"{}".to_vec()), &[])
        .await
        .problem(400, "Validation");
}

#[tokio::test]
async fn rotated_google_keys_are_fetched_when_a_token_names_a_new_one() {
    let old = SigningKey::generate("key-old");
    let new = SigningKey::generate("key-new");
    let (jwks, set, fetches) = key_server(vec![old.jwk()]).await;
    let server = google_server(&jwks);
    assert_eq!(google_login(&server, &old.sign(&google_claims("3003"), &old)).await.status, 200);

    *set.lock().unwrap() = vec![new.jwk()];
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the refetch cooldown
    let r = google_login(&server, &new.sign(&google_claims("3003"), &new)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(*fetches.lock().unwrap(), 2);
    // Unknown key ids do not make the server fetch again and again.
    for i in 0..5 {
        let ghost = SigningKey { kid: format!("ghost-{i}"), private: new.private.clone() };
        google_login(&server, &ghost.sign(&google_claims("3003"), &new)).await.problem(401, "Unauthorized");
    }
    assert!(*fetches.lock().unwrap() <= 3, "fetches: {}", fetches.lock().unwrap());
}

#[tokio::test]
async fn google_keys_can_come_from_a_file() {
    let key = SigningKey::generate("file-key");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, json!({"keys": [key.jwk()]}).to_string()).unwrap();
    let server = google_server(path.to_str().unwrap());
    let r = google_login(&server, &key.sign(&google_claims("4004"), &key)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// An RFC 7662 introspection endpoint that knows a few tokens and wants Basic credentials.
async fn introspection() -> String {
    async fn introspect(headers: HeaderMap, body: String) -> Response {
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("chatgate:s3cret"));
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let form: Vec<(String, String)> = form_pairs(&body);
        let token = form.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str()).unwrap_or("");
        assert!(form.iter().any(|(k, v)| k == "token_type_hint" && v == "access_token"));
        let answer = match token {
            "good-token" => {
                json!({"active": true, "sub": "u-77", "name": "Dana Scully", "email": "dana@ds.example", "exp": now() + 600})
            }
            "no-name" => json!({"active": true, "username": "mulder"}),
            "inactive" => json!({"active": false}),
            "expired" => json!({"active": true, "sub": "u-78", "exp": now() - 600}),
            "no-subject" => json!({"active": true}),
            "broken" => return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            _ => json!({"active": false}),
        };
        axum::Json(answer).into_response()
    }
    fn form_pairs(body: &str) -> Vec<(String, String)> {
        body.split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| {
                (k.to_owned(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
            })
            .collect()
    }
    let router = Router::new().route("/oauth/introspect", post(introspect));
    format!("{}/oauth/introspect", outside::serve(router).await)
}

#[tokio::test]
async fn dsaccount_tokens_are_checked_by_introspection() {
    let url = introspection().await;
    let server = TestServer::start_with(&[
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
        "--dsaccount-introspect-url",
        &url,
        "--dsaccount-client-id",
        "chatgate",
        "--dsaccount-client-secret",
        "s3cret",
    ]);
    let login = |token: &str| {
        let body = json!({"token": token}).to_string().into_bytes();
        server.request("POST", "/api/auth/dsaccount", None, Some(body), &[])
    };

    let r = login("good-token").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let auth = r.json();
    assert_eq!(auth["user"]["id"], "dsaccount-u-77");
    assert_eq!(auth["user"]["fullName"], "Dana Scully");
    assert_eq!(auth["user"]["uniqueName"], "dana@ds.example");
    assert_eq!(auth["user"]["role"], Value::Null);
    let me = server.get("/api/participants/dsaccount-u-77", auth["token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);

    let r = login("no-name").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["user"]["id"], "dsaccount-mulder");

    for token in ["inactive", "expired", "no-subject", "never-issued"] {
        login(token).await.problem(401, "Unauthorized");
    }
    login("broken").await.problem(500, "Unexpected");
    server
        .request("POST", "/api/auth/dsaccount", None, Some(b"{}".to_vec()), &[])
        .await
        .problem(400, "Validation");
}
