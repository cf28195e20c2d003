//! The integration-test harness: starts the real `chatgate` binary on a free port with its own
//! data directory, and talks to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub const SECRET: &str = "integration-test-secret";

pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    log: Arc<Mutex<Vec<String>>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl TestServer {
    /// A server with a fresh data directory, dev login on and rate limits off.
    pub fn start() -> TestServer {
        TestServer::start_with(&["--dev", "--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"])
    }

    pub fn start_with(args: &[&str]) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut server = TestServer::start_in(&dir, args);
        server._temp = Some(temp);
        server
    }

    /// A server (dev login on, rate limits off) reading `toml` as its configuration file; the
    /// file lives as long as the server.
    pub fn start_with_config(toml: &str) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let config = temp.path().join("chatgate.toml");
        std::fs::write(&config, toml).expect("write config");
        let data = temp.path().join("data");
        let mut server = TestServer::start_in(
            &data,
            &[
                "--dev",
                "--config",
                config.to_str().expect("utf-8 path"),
                "--rate-limit-per-ip",
                "0",
                "--rate-limit-per-user",
                "0",
            ],
        );
        server._temp = Some(temp);
        server
    }

    /// A server on an existing data directory (for restarts).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chatgate"));
        command
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--log", "info,chatgate=debug"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("CHATGATE_JWT_SECRET", SECRET)
            .env_remove("DATABASE_URL")
            .env_remove("CHATGATE_BUS_URL")
            .env_remove("CHATGATE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn chatgate");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("chatgate did not start; its log:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        TestServer {
            child: Some(child),
            base: format!("http://{address}"),
            data_dir: data_dir.to_owned(),
            _temp: None,
            log,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Kills the process without warning (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits for it; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        false
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = hyper::Request::builder().method(method).uri(self.url(path));
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
        let response = self.client.request(request).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request("POST", path, Some(token), Some(body.to_string().into_bytes()), &[]).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request("PUT", path, Some(token), Some(body.to_string().into_bytes()), &[]).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request("DELETE", path, Some(token), None, &[]).await
    }

    pub async fn post_raw(&self, path: &str, token: &str, body: &[u8]) -> Reply {
        self.request("POST", path, Some(token), Some(body.to_vec()), &[]).await
    }

    /// Creates (or updates) a participant, acting as that participant.
    pub async fn participant(&self, id: &str, name: &str) -> String {
        let t = token(id, "user");
        let r =
            self.post("/api/participants", &t, json!({"id": id, "uniqueName": id, "fullName": name})).await;
        assert_eq!(r.status, 200, "create participant {id}: {}", r.text());
        t
    }

    /// Creates a conversation owned by `owner` with `others`; returns its id.
    pub async fn conversation(&self, owner_token: &str, others: &[&str]) -> String {
        let r = self
            .post("/api/conversations", owner_token, json!({"name": "Test", "participantIds": others}))
            .await;
        assert_eq!(r.status, 201, "create conversation: {}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Sends a plain-text message; returns the MessageDto.
    pub async fn say(&self, token: &str, conversation: &str, text: &str) -> Value {
        let r = self
            .post(&format!("/api/conversations/{conversation}/messages"), token, text_message(text))
            .await;
        assert_eq!(r.status, 201, "send: {}", r.text());
        r.json()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 7807 answer with this status and title; returns it.
    pub fn problem(&self, status: u16, title: &str) -> Value {
        assert_eq!(self.status, status, "expected {status} {title}, got: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let p = self.json();
        assert_eq!(p["status"], status);
        assert_eq!(p["title"], title, "{p}");
        assert!(p["type"].as_str().is_some_and(|t| t.starts_with("https://")), "{p}");
        assert!(p["traceId"].as_str().is_some_and(|t| t.len() == 32), "{p}");
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
        p
    }
}

/// Every key of seed 002's `MessageDto`.
pub const MESSAGE_DTO_KEYS: [&str; 18] = [
    "id",
    "conversationId",
    "senderId",
    "senderType",
    "blocks",
    "plainTextIndex",
    "replyToMessageId",
    "quickReplies",
    "isEdited",
    "editedAt",
    "isDeleted",
    "deletedAt",
    "reactionSummary",
    "mentions",
    "createdAt",
    "updatedAt",
    "clientMessageId",
    "systemEvent",
];

/// A token signed with the test servers' secret.
pub fn token(sub: &str, role: &str) -> String {
    token_with(json!({"sub": sub, "role": role, "tenant": "default", "name": sub, "exp": far_future()}))
}

pub fn token_in(tenant: &str, sub: &str, role: &str) -> String {
    token_with(json!({"sub": sub, "role": role, "tenant": tenant, "name": sub, "exp": far_future()}))
}

pub fn token_with(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

pub fn far_future() -> i64 {
    4_000_000_000
}

pub fn text_message(text: &str) -> Value {
    json!({"blocks": [{"$type": "text", "format": "Plain", "content": text}]})
}

pub fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}
