//! Who may call the REST API and how they log in: bearer tokens verified strictly (HS256 with the
//! server's secret, a known role, `sub` and `exp`), tenants kept apart, dev and CLI-created logins,
//! logins that are not configured; and the plain-text health probes, unknown paths and methods,
//! and rate limits.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};

/// Runs the `chatgate` binary with the test servers' secret and no outside configuration.
fn chatgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatgate"));
    command
        .args(args)
        .env("CHATGATE_JWT_SECRET", SECRET)
        .env_remove("DATABASE_URL")
        .env_remove("CHATGATE_CONFIG")
        .env_remove("CHATGATE_DATA_DIR")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn chatgate");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("chatgate output")
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// Base64url without padding, as JWT segments are written.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn sign(algorithm: jsonwebtoken::Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn claims(sub: &str, role: &str) -> Value {
    json!({"sub": sub, "role": role, "tenant": "default", "name": sub, "exp": far_future()})
}

/// `GET /api/conversations` with exactly this Authorization header (or none).
async fn list_with(server: &TestServer, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("authorization", a)).into_iter().collect();
    server.request("GET", "/api/conversations", None, None, &headers).await
}

async fn list_as(server: &TestServer, jwt: &str) -> Reply {
    list_with(server, Some(&format!("Bearer {jwt}"))).await
}

/// A 401 raised before any handler: a problem without `errors`, asking for a bearer token.
fn assert_unauthorized(reply: &Reply) -> Value {
    let problem = reply.problem(401, "Unauthorized");
    assert!(problem.get("errors").is_none(), "a 401 carries no errors[]: {problem}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "WWW-Authenticate: {challenge:?}");
    problem
}

/// Any RFC 7807 answer of the gateway: one of its titles, and the status that title implies.
fn assert_gateway_problem(reply: &Reply) -> Value {
    let title = reply.json()["title"].as_str().unwrap_or_default().to_owned();
    let status = match title.as_str() {
        "Validation" => 400,
        "Unauthorized" => 401,
        "Forbidden" => 403,
        "NotFound" => 404,
        "Conflict" => 409,
        "Unexpected" => 500,
        other => panic!("`{other}` is not a gateway error title: {}", reply.text()),
    };
    reply.problem(status, &title)
}

async fn dev_login(server: &TestServer, username: &str, password: &str) -> Reply {
    let body = json!({"username": username, "password": password}).to_string().into_bytes();
    server.request("POST", "/api/auth/dev", None, Some(body), &[]).await
}

// --- tokens -------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_without_a_token_is_unauthorized_without_errors() {
    let server = TestServer::start();
    let problem = assert_unauthorized(&list_with(&server, None).await);
    assert!(problem["detail"].as_str().unwrap().contains("Bearer"), "the detail says how: {problem}");
    let send = server
        .request("POST", "/api/conversations", None, Some(json!({"name": "x"}).to_string().into_bytes()), &[])
        .await;
    assert_unauthorized(&send);
    // Nothing was created by the refused call.
    let alice = token("alice", "user");
    assert_eq!(server.get("/api/conversations", &alice).await.json()["items"], json!([]));
}

#[tokio::test]
async fn credentials_other_than_a_bearer_token_are_unauthorized() {
    let server = TestServer::start();
    let valid = token("alice", "user");
    for header in [
        "Basic YWxpY2U6cGFzc3dvcmQ=".to_owned(),
        format!("Token {valid}"),
        format!("Basic {valid}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
    ] {
        let r = list_with(&server, Some(&header)).await;
        assert_eq!(r.status, 401, "{header:?} was let in: {}", r.text());
        assert_unauthorized(&r);
    }
    assert_eq!(list_as(&server, &valid).await.status, 200);
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_unauthorized() {
    let server = TestServer::start();
    let forged = sign(jsonwebtoken::Algorithm::HS256, "not-the-server-secret", &claims("alice", "admin"));
    assert_unauthorized(&list_as(&server, &forged).await);
    // A signature altered by one character fails too.
    let valid = token("alice", "user");
    let mut tampered = valid.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_unauthorized(&list_as(&server, &tampered).await);
    assert_eq!(list_as(&server, &valid).await.status, 200);
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let server = TestServer::start();
    let mut expired = claims("alice", "user");
    expired["exp"] = json!(now_secs() - 3600);
    let problem = assert_unauthorized(&list_as(&server, &token_with(expired)).await);
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    let mut fresh = claims("alice", "user");
    fresh["exp"] = json!(now_secs() + 3600);
    assert_eq!(list_as(&server, &token_with(fresh)).await.status, 200);
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_unauthorized() {
    let server = TestServer::start();
    // A genuine token for an admin; only its header is swapped for an unsigned one.
    let genuine = token_with(claims("mallory", "admin"));
    let segments: Vec<&str> = genuine.split('.').collect();
    assert_eq!(segments[0], base64url(br#"{"typ":"JWT","alg":"HS256"}"#), "the encoder matches the signer's");
    assert_eq!(list_as(&server, &genuine).await.status, 200);
    for header in
        [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None","typ":"JWT"}"#, r#"{"alg":"NONE","typ":"JWT"}"#]
    {
        let unsigned_header = base64url(header.as_bytes());
        for signature in ["", segments[2]] {
            let forged = format!("{unsigned_header}.{}.{signature}", segments[1]);
            assert_unauthorized(&list_as(&server, &forged).await);
        }
    }
    // Claims written by hand, with no signature at all.
    let body = base64url(claims("mallory", "admin").to_string().as_bytes());
    let forged = format!("{}.{body}.", base64url(br#"{"alg":"none","typ":"JWT"}"#));
    assert_unauthorized(&list_as(&server, &forged).await);
}

#[tokio::test]
async fn tokens_signed_with_hs384_or_hs512_are_unauthorized() {
    let server = TestServer::start();
    for algorithm in [jsonwebtoken::Algorithm::HS384, jsonwebtoken::Algorithm::HS512] {
        // The right secret, the wrong algorithm.
        let other = sign(algorithm, SECRET, &claims("alice", "user"));
        assert_unauthorized(&list_as(&server, &other).await);
    }
}

#[tokio::test]
async fn a_token_with_an_unknown_role_is_unauthorized() {
    let server = TestServer::start();
    for role in [json!("superuser"), json!(""), json!(42), json!(null)] {
        let mut c = claims("alice", "user");
        c["role"] = role.clone();
        let r = list_as(&server, &token_with(c)).await;
        assert_eq!(r.status, 401, "role {role} was let in: {}", r.text());
        assert_unauthorized(&r);
    }
}

#[tokio::test]
async fn a_jwt_with_the_customer_role_is_unauthorized() {
    let server = TestServer::start();
    assert_unauthorized(&list_as(&server, &token("visitor", "customer")).await);
}

#[tokio::test]
async fn a_token_without_exp_or_sub_is_unauthorized() {
    let server = TestServer::start();
    let mut no_exp = claims("alice", "user");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_unauthorized(&list_as(&server, &token_with(no_exp)).await);
    let mut no_sub = claims("alice", "user");
    no_sub.as_object_mut().unwrap().remove("sub");
    assert_unauthorized(&list_as(&server, &token_with(no_sub)).await);
    let mut empty_sub = claims("alice", "user");
    empty_sub["sub"] = json!("");
    assert_unauthorized(&list_as(&server, &token_with(empty_sub)).await);
}

#[tokio::test]
async fn a_token_printed_by_the_cli_is_accepted() {
    let server = TestServer::start();
    let out =
        chatgate(&["token", "--sub", "alice", "--role", "user", "--name", "Alice", "--ttl", "1h"], None);
    assert!(out.status.success(), "chatgate token failed: {}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    let jwt = printed.trim();
    assert_eq!(jwt.split('.').count(), 3, "not a JWT: {printed:?}");
    assert_eq!(list_as(&server, jwt).await.status, 200);
    // The token speaks for `alice`, with the name it was given.
    let created = server.post("/api/conversations", jwt, json!({"name": "From the CLI"})).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["ownerId"], "alice");
    let me = server.get("/api/participants/alice", jwt).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["fullName"], "Alice");
}

#[tokio::test]
async fn a_cli_token_signed_with_another_secret_is_unauthorized() {
    let server = TestServer::start();
    let out = chatgate(&["token", "--sub", "alice", "--jwt-secret", "some-other-secret"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwt = String::from_utf8(out.stdout).unwrap();
    assert_unauthorized(&list_as(&server, jwt.trim()).await);
}

#[tokio::test]
async fn a_tenant_cannot_see_another_tenants_conversation() {
    let server = TestServer::start();
    let alice_a = token_in("acme", "alice", "user");
    let conversation = server.conversation(&alice_a, &[]).await;
    server.say(&alice_a, &conversation, "acme only").await;
    // The same participant id, and an admin, in another tenant.
    for outsider in [token_in("globex", "alice", "user"), token_in("globex", "root", "admin")] {
        let r = server.get(&format!("/api/conversations/{conversation}"), &outsider).await;
        r.problem(404, "NotFound");
        let r = server.get(&format!("/api/conversations/{conversation}/messages"), &outsider).await;
        r.problem(404, "NotFound");
        let r = server
            .post(&format!("/api/conversations/{conversation}/messages"), &outsider, text_message("hi"))
            .await;
        r.problem(404, "NotFound");
        let listed = server.get("/api/conversations", &outsider).await.json();
        assert_eq!(listed["items"], json!([]), "{listed}");
    }
    let history = server.get(&format!("/api/conversations/{conversation}/messages"), &alice_a).await.json();
    let texts: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["blocks"][0]["content"].as_str())
        .collect();
    assert_eq!(texts, ["acme only"]);
}

// --- logins -------------------------------------------------------------------------------

#[tokio::test]
async fn dev_login_is_forbidden_unless_enabled_and_says_how_to_enable_it() {
    let server = TestServer::start_with(&["--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"]);
    let r = dev_login(&server, "devuser", "devpass").await;
    let problem = r.problem(403, "Forbidden");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("--dev") && detail.contains("CHATGATE_DEV"), "{detail}");
    assert!(r.json().get("token").is_none());
}

#[tokio::test]
async fn the_first_dev_login_creates_the_user_and_its_token_works() {
    let server = TestServer::start();
    let r = dev_login(&server, "devuser", "devpass").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap_or_default().starts_with("application/json"));
    let auth = r.json();
    let user = &auth["user"];
    let id = user["id"].as_str().expect("user.id");
    assert!(!id.is_empty());
    assert_eq!(user["uniqueName"], "devuser");
    assert!(user["fullName"].as_str().is_some_and(|n| !n.is_empty()), "{auth}");
    assert!(user.get("avatar").is_some_and(Value::is_null), "avatar is present and null: {auth}");
    assert_eq!(user["role"], "dev");
    let jwt = auth["token"].as_str().expect("token");
    assert_eq!(list_as(&server, jwt).await.status, 200);
    // The token acts as the new user, and expires in the future.
    let created = server.post("/api/conversations", jwt, json!({"name": "dev"})).await.json();
    assert_eq!(created["ownerId"], id);
    let expires = auth["expiresAt"].as_str().expect("expiresAt");
    let now = created["createdAt"].as_str().unwrap();
    assert_eq!(expires.len(), now.len(), "expiresAt is ISO 8601 like the server's timestamps: {expires}");
    assert!(expires > now, "expiresAt {expires} is not after {now}");
}

#[tokio::test]
async fn a_second_dev_login_with_the_same_password_is_the_same_user() {
    let server = TestServer::start();
    let first = dev_login(&server, "devuser", "devpass").await.json();
    let second = dev_login(&server, "devuser", "devpass").await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    assert_eq!(list_as(&server, second["token"].as_str().unwrap()).await.status, 200);
    let other = dev_login(&server, "otheruser", "devpass").await.json();
    assert_ne!(other["user"]["id"], first["user"]["id"]);
}

#[tokio::test]
async fn a_dev_login_with_a_wrong_password_is_unauthorized() {
    let server = TestServer::start();
    assert_eq!(dev_login(&server, "devuser", "devpass").await.status, 200);
    let r = dev_login(&server, "devuser", "not-devpass").await;
    r.problem(401, "Unauthorized");
    assert!(r.json().get("token").is_none());
    // The right password still works afterwards.
    assert_eq!(dev_login(&server, "devuser", "devpass").await.status, 200);
}

#[tokio::test]
async fn a_dev_login_with_a_bad_body_is_a_validation_error() {
    let server = TestServer::start();
    for body in [json!({}), json!({"username": "devuser"}), json!({"username": "devuser", "password": 5})] {
        let r = server.request("POST", "/api/auth/dev", None, Some(body.to_string().into_bytes()), &[]).await;
        r.problem(400, "Validation");
    }
    dev_login(&server, "devuser", "").await.problem(400, "Validation");
    // None of these created the user: the first real login chooses its password.
    assert_eq!(dev_login(&server, "devuser", "chosen-now").await.status, 200);
    assert_eq!(dev_login(&server, "devuser", "chosen-now").await.status, 200);
}

#[tokio::test]
async fn google_and_dsaccount_logins_say_what_to_configure() {
    let server = TestServer::start();
    for (provider, body, variable) in [
        ("google", json!({"idToken": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}), "CHATGATE_GOOGLE_"),
        ("dsaccount", json!({"token": "opaque"}), "CHATGATE_DSACCOUNT_"),
    ] {
        let path = format!("/api/auth/{provider}");
        let r = server.request("POST", &path, None, Some(body.to_string().into_bytes()), &[]).await;
        assert!(r.status >= 400, "{provider}: {}", r.text());
        let problem = assert_gateway_problem(&r);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("not configured") && detail.contains(variable), "{provider}: {detail}");
    }
}

#[tokio::test]
async fn an_unknown_login_provider_is_not_found() {
    let server = TestServer::start();
    let body = json!({"token": "x"}).to_string().into_bytes();
    let r = server.request("POST", "/api/auth/whatever", None, Some(body), &[]).await;
    let problem = r.problem(404, "NotFound");
    assert!(problem["detail"].as_str().unwrap().contains("whatever"), "{problem}");
}

#[tokio::test]
async fn user_add_creates_a_login_in_its_tenant() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().unwrap();
    let args = [
        "user",
        "add",
        "--username",
        "ana",
        "--password-stdin",
        "--role",
        "agent",
        "--tenant",
        "acme",
        "--data-dir",
        data_dir,
    ];
    // The password arrives on standard input, with the newline a shell pipe would add.
    let out = chatgate(&args, Some("correct horse battery\n"));
    assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("ana") && printed.contains("acme"), "{printed}");

    let server =
        TestServer::start_in(dir.path(), &["--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"]);
    let acme = token_in("acme", "someone", "agent");
    let ana = server.get("/api/participants/by-unique-name/ana", &acme).await;
    assert_eq!(ana.status, 200, "{}", ana.text());
    let ana = ana.json();
    assert_eq!(ana["fullName"], "ana");
    assert!(printed.contains(ana["id"].as_str().unwrap()), "the printed id is the participant's: {printed}");
    // Only in its own tenant.
    let elsewhere = token_in("default", "someone", "agent");
    server.get("/api/participants/by-unique-name/ana", &elsewhere).await.problem(404, "NotFound");
}

#[tokio::test]
async fn a_dev_user_added_with_the_cli_logs_in_with_its_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().unwrap();
    let args =
        ["user", "add", "--username", "devops", "--password-stdin", "--role", "dev", "--data-dir", data_dir];
    let out = chatgate(&args, Some("s3cret-enough"));
    assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));

    let server = TestServer::start_in(
        dir.path(),
        &["--dev", "--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"],
    );
    let login = dev_login(&server, "devops", "s3cret-enough").await;
    assert_eq!(login.status, 200, "{}", login.text());
    let login = login.json();
    assert!(String::from_utf8_lossy(&out.stdout).contains(login["user"]["id"].as_str().unwrap()));
    dev_login(&server, "devops", "guessed-wrong").await.problem(401, "Unauthorized");
}

#[tokio::test]
async fn user_add_refuses_a_short_password_and_a_taken_username() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().unwrap();
    let add = |password: &str| {
        chatgate(
            &["user", "add", "--username", "ana", "--password-stdin", "--data-dir", data_dir],
            Some(password),
        )
    };
    let short = add("short");
    assert!(!short.status.success(), "a 5-character password was accepted");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least"), "{:?}", short);
    assert!(add("long enough password").status.success());
    let again = add("another long password");
    assert!(!again.status.success(), "the same username was added twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"), "{again:?}");
}

// --- health, routing, rate limits ----------------------------------------------------------

#[tokio::test]
async fn health_probes_answer_healthy_in_plain_text_without_a_token() {
    let server = TestServer::start();
    for path in ["/health/live", "/health/ready"] {
        let r = server.request("GET", path, None, None, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let content_type = r.header("content-type").unwrap_or_default();
        assert!(content_type.starts_with("text/plain"), "{path}: {content_type}");
        assert_eq!(r.text(), "Healthy", "{path}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_not_found_problem() {
    let server = TestServer::start();
    let alice = token("alice", "user");
    for path in ["/nope", "/api/nothing", "/api/conversations/x/y/z", "/health"] {
        let r = server.request("GET", path, Some(&alice), None, &[]).await;
        let problem = r.problem(404, "NotFound");
        assert!(problem["detail"].as_str().unwrap().contains(path), "{problem}");
        // Not even a token is needed to learn that a path does not exist.
        server.request("GET", path, None, None, &[]).await.problem(404, "NotFound");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_method_not_allowed_problem() {
    let server = TestServer::start();
    let alice = token("alice", "user");
    for (method, path, allowed) in [
        ("PATCH", "/api/conversations", "GET"),
        ("GET", "/api/auth/dev", "POST"),
        ("DELETE", "/health/live", "GET"),
        ("POST", "/api/conversations/search", "GET"),
    ] {
        let r = server.request(method, path, Some(&alice), None, &[]).await;
        r.problem(405, "MethodNotAllowed");
        let allow = r.header("allow").unwrap_or_default();
        assert!(allow.contains(allowed), "{method} {path}: Allow {allow:?}");
    }
}

#[tokio::test]
async fn a_user_over_the_rate_limit_gets_429_while_another_is_served() {
    let server = TestServer::start_with(&["--rate-limit-per-user", "2", "--rate-limit-per-ip", "0"]);
    let alice = server.participant("alice", "Alice").await;
    let conversation = server.conversation(&alice, &[]).await;
    // Let alice's allowance fill up again, then spend it all at once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let path = format!("/api/conversations/{conversation}/messages");
    let mut accepted = 0;
    let mut limited = None;
    for n in 0..20 {
        let r = server.post(&path, &alice, text_message(&format!("burst {n}"))).await;
        match r.status {
            201 => accepted += 1,
            429 => limited = Some(r),
            other => panic!("burst {n} got {other}: {}", r.text()),
        }
    }
    assert!(accepted >= 1, "the allowance let nothing through");
    let limited = limited.expect("20 sends at once were never limited");
    let problem = limited.problem(429, "TooManyRequests");
    assert!(problem.get("errors").is_none(), "{problem}");
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry_after >= 1);

    // Bob has his own allowance.
    let bob = token("bob", "user");
    assert_eq!(server.get("/api/conversations", &bob).await.status, 200);
    // Only the accepted sends were stored.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let history = server.get(&format!("{path}?limit=100"), &alice).await;
    assert_eq!(history.status, 200, "{}", history.text());
    assert_eq!(history.json()["items"].as_array().unwrap().len(), accepted);
}

#[tokio::test]
async fn a_client_address_over_the_rate_limit_gets_429() {
    let server = TestServer::start_with(&["--rate-limit-per-ip", "2", "--rate-limit-per-user", "0"]);
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..20 {
        let r = server.request("GET", "/api/conversations", None, None, &[]).await;
        statuses.push(r.status);
        if r.status == 429 {
            limited = Some(r);
        }
    }
    assert!(statuses.iter().all(|s| matches!(s, 401 | 429)), "{statuses:?}");
    let limited = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    limited.problem(429, "TooManyRequests");
    assert!(limited.header("retry-after").is_some());
}
