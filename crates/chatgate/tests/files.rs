//! Files (DESIGN 4.8, seed 002 sections 8 and 16) against the real server: upload URLs, raw and
//! multipart uploads, downloads whole and by range, keys with special characters, deletion by the
//! uploader, signed download URLs (tampered and expired ones too), signed media URLs in answers,
//! thumbnails of images and videos, and S3-compatible storage (a local `moto_server`).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const SIGNING_SECRET: &str = "file-test-signing-secret";

fn quick_server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--dev", "--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

fn signed_server() -> TestServer {
    quick_server(&["--files-signed", "--files-signing-secret", SIGNING_SECRET])
}

/// Any request, with exactly the headers given (the harness's own helper always sends JSON).
async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut builder = hyper::Request::builder().method(method).uri(server.url(path));
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(Bytes::from(body))).expect("request");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client.request(request).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, body }
}

async fn fetch(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(server, "GET", path, None, headers, Vec::new()).await
}

/// `POST /api/files/upload-url`; returns the answer (200 expected).
async fn grant(server: &TestServer, token: &str, name: &str, content_type: &str, size: usize) -> Value {
    let r = server
        .post(
            "/api/files/upload-url",
            token,
            json!({"fileName": name, "contentType": content_type, "fileSize": size}),
        )
        .await;
    assert_eq!(r.status, 200, "upload-url: {}", r.text());
    r.json()
}

async fn put_bytes(server: &TestServer, token: &str, upload_url: &str, bytes: &[u8]) -> Reply {
    send(
        server,
        "PUT",
        upload_url,
        Some(token),
        &[("content-type", "application/octet-stream")],
        bytes.to_vec(),
    )
    .await
}

/// Uploads `bytes` (upload URL, then PUT); returns the UploadResponse.
async fn upload(server: &TestServer, token: &str, name: &str, content_type: &str, bytes: &[u8]) -> Value {
    let g = grant(server, token, name, content_type, bytes.len()).await;
    let r = put_bytes(server, token, g["uploadUrl"].as_str().unwrap(), bytes).await;
    assert_eq!(r.status, 200, "upload: {}", r.text());
    r.json()
}

/// The download path of a key, each segment percent-encoded (all but RFC 3986's unreserved
/// characters), as the server writes it.
fn path_of(storage_key: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let segments: Vec<String> = storage_key
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    format!("/api/files/{}", segments.join("/"))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

/// `expires` and `sig` as a backend holding the signing secret would compute them.
fn sign(storage_key: &str, expires: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("{storage_key}\n{expires}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Polls the message until block `index` has a thumbnail; returns the message.
async fn wait_for_thumbnail(server: &TestServer, token: &str, message_id: &str, index: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = server.get(&format!("/api/messages/{message_id}"), token).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let m = r.json();
        if !m["blocks"][index]["thumbnail"].is_null() {
            return m;
        }
        assert!(Instant::now() < deadline, "no thumbnail within 20 s: {m}\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn conversation_with(server: &TestServer, owner: &str, others: &[&str]) -> (String, String) {
    let token = server.participant(owner, owner).await;
    for other in others {
        server.participant(other, other).await;
    }
    let id = server.conversation(&token, others).await;
    (token, id)
}

async fn send_blocks(server: &TestServer, token: &str, conversation: &str, blocks: Value) -> Value {
    let r = server
        .post(&format!("/api/conversations/{conversation}/messages"), token, json!({"blocks": blocks}))
        .await;
    assert_eq!(r.status, 201, "send: {}", r.text());
    r.json()
}

#[tokio::test]
async fn an_upload_url_takes_the_bytes_and_the_file_downloads_whole_and_by_range() {
    let server = quick_server(&[]);
    let ana = server.participant("ana", "Ana").await;
    let bytes = pattern(100_000);
    let g = grant(&server, &ana, "report.pdf", "application/pdf", bytes.len()).await;
    let upload_url = g["uploadUrl"].as_str().unwrap();
    assert!(upload_url.starts_with("/api/files/"), "relative: {upload_url}");
    let key = g["storageKey"].as_str().unwrap().to_owned();
    assert!(key.ends_with("/report.pdf"), "{key}");
    let expires = g["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires > "2020", "{expires}");

    let r = put_bytes(&server, &ana, upload_url, &bytes).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = r.json();
    let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6, "{u}");
    assert_eq!(u["storageKey"], key.as_str());
    assert_eq!(u["downloadUrl"], path_of(&key));
    assert_eq!(u["fileName"], "report.pdf");
    assert_eq!(u["contentType"], "application/pdf");
    assert_eq!(u["fileSize"], 100_000);
    assert!(u["uploadedAt"].as_str().unwrap().ends_with('Z'));

    let whole = fetch(&server, &path_of(&key), &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("application/pdf"));
    assert_eq!(whole.header("content-length"), Some("100000"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(whole.header("content-security-policy"), None, "PDFs are left to the browser's viewer");
    assert!(whole.header("content-disposition").unwrap().starts_with("inline; filename=\"report.pdf\""));
    assert_eq!(&whole.body[..], &bytes[..]);

    let part = fetch(&server, &path_of(&key), &[("range", "bytes=10-19")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/100000"));
    assert_eq!(part.header("content-length"), Some("10"));
    assert_eq!(&part.body[..], &bytes[10..20]);

    let tail = fetch(&server, &path_of(&key), &[("range", "bytes=99990-")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.header("content-range"), Some("bytes 99990-99999/100000"));
    assert_eq!(&tail.body[..], &bytes[99_990..]);

    let suffix = fetch(&server, &path_of(&key), &[("range", "bytes=-5")]).await;
    assert_eq!(suffix.status, 206);
    assert_eq!(&suffix.body[..], &bytes[99_995..]);

    let past = fetch(&server, &path_of(&key), &[("range", "bytes=100000-")]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */100000"));

    let several = fetch(&server, &path_of(&key), &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(several.status, 200, "several ranges are answered with the whole file");
    assert_eq!(several.body.len(), 100_000);

    let missing = fetch(&server, "/api/files/01HXXXXXXXXXXXXXXXXXXXXXXX/none.txt", &[]).await;
    missing.problem(404, "NotFound");
}

/// The server process's peak resident memory (`VmHWM`), in KiB. The process is found by its
/// data directory, which is its own.
fn peak_memory_kib(server: &TestServer) -> u64 {
    let needle = server.data_dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("serve") && cmdline.contains(&needle) {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap();
            let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
            return line.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
    }
    panic!("no chatgate process with data directory {needle}");
}

#[tokio::test]
async fn uploads_stream_to_storage_without_holding_the_file_in_memory() {
    let server = quick_server(&[]);
    let ana = server.participant("ana", "Ana").await;
    upload(&server, &ana, "warm-up.bin", "application/octet-stream", &pattern(2 * 1024 * 1024)).await;
    let before = peak_memory_kib(&server);
    let bytes = pattern(45 * 1024 * 1024);
    let u = upload(&server, &ana, "big.bin", "application/octet-stream", &bytes).await;
    let grown_mib = (peak_memory_kib(&server) - before) / 1024;
    assert!(grown_mib < 20, "a 45 MiB upload raised the server's peak memory by {grown_mib} MiB");
    let stored = std::fs::metadata(
        walk(&server.data_dir.join("files")).into_iter().find(|p| p.ends_with("big.bin")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored.len(), bytes.len() as u64);
    let tail = fetch(&server, &path_of(u["storageKey"].as_str().unwrap()), &[("range", "bytes=-16")]).await;
    assert_eq!(&tail.body[..], &bytes[bytes.len() - 16..]);
}

#[tokio::test]
async fn a_multipart_upload_takes_the_file_field_and_ignores_the_rest() {
    let server = quick_server(&[]);
    let ana = server.participant("ana", "Ana").await;
    let bytes = pattern(3_000);
    let g = grant(&server, &ana, "data.bin", "application/octet-stream", bytes.len()).await;
    let boundary = "chatgate-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = send(
        &server,
        "POST",
        g["uploadUrl"].as_str().unwrap(),
        Some(&ana),
        &[("content-type", content_type.as_str())],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["fileSize"], 3_000);
    let got = fetch(&server, &path_of(g["storageKey"].as_str().unwrap()), &[]).await;
    assert_eq!(&got.body[..], &bytes[..]);

    let g = grant(&server, &ana, "data.bin", "application/octet-stream", 10).await;
    let no_file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{boundary}--\r\n"
    );
    let r = send(
        &server,
        "POST",
        g["uploadUrl"].as_str().unwrap(),
        Some(&ana),
        &[("content-type", content_type.as_str())],
        no_file.into_bytes(),
    )
    .await;
    let p = r.problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "file");
}

#[tokio::test]
async fn upload_urls_are_for_their_participant_once_and_until_they_expire() {
    let server = TestServer::start_with_config("[limits]\nupload_url_ttl_ms = 1500\n");
    let ana = server.participant("ana", "Ana").await;
    let ben = server.participant("ben", "Ben").await;
    let other_tenant = token_in("acme", "ana", "user");

    let g = grant(&server, &ana, "a.txt", "text/plain", 3).await;
    let url = g["uploadUrl"].as_str().unwrap();
    put_bytes(&server, &ben, url, b"abc").await.problem(404, "NotFound");
    put_bytes(&server, &other_tenant, url, b"abc").await.problem(404, "NotFound");
    send(&server, "PUT", url, None, &[], b"abc".to_vec()).await.problem(401, "Unauthorized");
    assert_eq!(put_bytes(&server, &ana, url, b"abc").await.status, 200);
    let again = put_bytes(&server, &ana, url, b"abc").await.problem(409, "Conflict");
    assert_eq!(again["errors"][0]["code"], "Upload.AlreadyUsed");
    put_bytes(&server, &ana, "/api/files/uploads/01HXXXXXXXXXXXXXXXXXXXXXXX", b"abc")
        .await
        .problem(404, "NotFound");

    let late = grant(&server, &ana, "b.txt", "text/plain", 3).await;
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let expired =
        put_bytes(&server, &ana, late["uploadUrl"].as_str().unwrap(), b"abc").await.problem(409, "Conflict");
    assert_eq!(expired["errors"][0]["code"], "Upload.Expired");
    fetch(&server, &path_of(late["storageKey"].as_str().unwrap()), &[]).await.problem(404, "NotFound");
}

#[tokio::test]
async fn announced_files_are_checked_and_the_bytes_must_match_the_announcement() {
    let server = TestServer::start_with_config("[limits]\nmax_file_bytes = 1000\n");
    let ana = server.participant("ana", "Ana").await;
    let ask = |body: Value| {
        let (server, ana) = (&server, &ana);
        async move { server.post("/api/files/upload-url", ana, body).await }
    };
    let too_big =
        ask(json!({"fileName": "a.bin", "contentType": "application/octet-stream", "fileSize": 1001})).await;
    assert_eq!(too_big.problem(400, "Validation")["errors"][0]["code"], "fileSize");
    let html = ask(json!({"fileName": "a.html", "contentType": "text/html", "fileSize": 10})).await;
    assert_eq!(html.problem(400, "Validation")["errors"][0]["code"], "contentType");
    let svg = ask(json!({"fileName": "a.svg", "contentType": "image/svg+xml", "fileSize": 10})).await;
    assert_eq!(svg.problem(400, "Validation")["errors"][0]["code"], "contentType");
    let nameless = ask(json!({"fileName": " ", "contentType": "image/png", "fileSize": 10})).await;
    assert_eq!(nameless.problem(400, "Validation")["errors"][0]["code"], "fileName");
    let negative = ask(json!({"fileName": "a", "contentType": "image/png", "fileSize": -1})).await;
    assert_eq!(negative.problem(400, "Validation")["errors"][0]["code"], "fileSize");
    let anonymous = send(&server, "POST", "/api/files/upload-url", None, &[], b"{}".to_vec()).await;
    anonymous.problem(401, "Unauthorized");

    let g = grant(&server, &ana, "a.bin", "application/octet-stream", 10).await;
    let url = g["uploadUrl"].as_str().unwrap();
    let key = g["storageKey"].as_str().unwrap();
    let longer = put_bytes(&server, &ana, url, &pattern(11)).await.problem(400, "Validation");
    assert_eq!(longer["errors"][0]["code"], "file");
    fetch(&server, &path_of(key), &[]).await.problem(404, "NotFound");
    let shorter = put_bytes(&server, &ana, url, &pattern(9)).await.problem(400, "Validation");
    assert_eq!(shorter["errors"][0]["code"], "file");
    fetch(&server, &path_of(key), &[]).await.problem(404, "NotFound");
    // A failed upload leaves the URL usable until it expires.
    assert_eq!(put_bytes(&server, &ana, url, &pattern(10)).await.status, 200);
    assert_eq!(fetch(&server, &path_of(key), &[]).await.body.len(), 10);
    let stored: Vec<_> = walk(&server.data_dir.join("files"));
    assert_eq!(stored.len(), 1, "only the complete upload is stored: {stored:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
        }
    }
    files
}

#[tokio::test]
async fn keys_with_spaces_and_other_characters_work_percent_encoded_per_segment() {
    let server = quick_server(&[]);
    let ana = server.participant("ana", "Ana").await;
    let name = "ảnh kỳ nghỉ #1 (100%)?.png";
    let u = upload(&server, &ana, name, "image/png", b"not really a png").await;
    let key = u["storageKey"].as_str().unwrap();
    let (first, rest) = key.split_once('/').unwrap();
    assert_eq!(rest, name);
    let path = path_of(key);
    assert_eq!(u["downloadUrl"], path.as_str());
    let r = fetch(&server, &path, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"not really a png");
    assert!(r.header("content-disposition").unwrap().contains("filename*=UTF-8''%E1%BA%A3nh"));
    assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; sandbox"));
    // The separator is `/` only: an encoded slash does not split a segment.
    fetch(&server, &format!("/api/files/{first}%2F{}", encode(rest)), &[]).await.problem(404, "NotFound");
    let r = send(&server, "DELETE", &path, Some(&ana), &[], Vec::new()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    fetch(&server, &path, &[]).await.problem(404, "NotFound");
}

#[tokio::test]
async fn only_the_uploader_deletes_a_file() {
    let server = quick_server(&[]);
    let ana = server.participant("ana", "Ana").await;
    let ben = server.participant("ben", "Ben").await;
    let key = upload(&server, &ana, "mine.txt", "text/plain", b"mine").await["storageKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = path_of(&key);
    let r = send(&server, "DELETE", &path, Some(&ben), &[], Vec::new()).await;
    assert_eq!(r.problem(403, "Forbidden")["errors"][0]["code"], "File.NotUploader");
    let admin = token("boss", "admin");
    send(&server, "DELETE", &path, Some(&admin), &[], Vec::new()).await.problem(403, "Forbidden");
    let stranger = token_in("acme", "ana", "user");
    send(&server, "DELETE", &path, Some(&stranger), &[], Vec::new()).await.problem(404, "NotFound");
    send(&server, "DELETE", &path, None, &[], Vec::new()).await.problem(401, "Unauthorized");
    assert_eq!(fetch(&server, &path, &[]).await.status, 200, "still there");
    assert_eq!(send(&server, "DELETE", &path, Some(&ana), &[], Vec::new()).await.status, 204);
    fetch(&server, &path, &[]).await.problem(404, "NotFound");
    assert!(walk(&server.data_dir.join("files")).is_empty(), "the bytes are gone too");
    send(&server, "DELETE", &path, Some(&ana), &[], Vec::new()).await.problem(404, "NotFound");
}

#[tokio::test]
async fn signed_downloads_need_a_valid_unexpired_signature() {
    let server = signed_server();
    let ana = server.participant("ana", "Ana").await;
    let u = upload(&server, &ana, "photo 1.png", "image/png", b"pixels").await;
    let key = u["storageKey"].as_str().unwrap().to_owned();
    let url = u["downloadUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}?expires=", path_of(&key))), "{url}");
    assert!(url.contains("&sig="), "{url}");

    let ok = fetch(&server, &url, &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(&ok.body[..], b"pixels");
    let ranged = fetch(&server, &url, &[("range", "bytes=1-2")]).await;
    assert_eq!(ranged.status, 206);
    assert_eq!(&ranged.body[..], b"ix");

    let unsigned = fetch(&server, &path_of(&key), &[]).await.problem(400, "Invalid Signature");
    assert!(unsigned["detail"].as_str().unwrap().contains("expires"), "{unsigned}");
    let (base, query) = url.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = url_pairs(query).into_iter().collect();
    let expires = pairs.iter().find(|(k, _)| k == "expires").unwrap().1.clone();
    let sig = pairs.iter().find(|(k, _)| k == "sig").unwrap().1.clone();

    let mut tampered_sig = sig.clone().into_bytes();
    tampered_sig[3] = if tampered_sig[3] == b'A' { b'B' } else { b'A' };
    let tampered_sig = String::from_utf8(tampered_sig).unwrap();
    let path = format!("{base}?expires={}&sig={tampered_sig}", encode(&expires));
    fetch(&server, &path, &[]).await.problem(400, "Invalid Signature");

    let later = "2999-01-01T00:00:00.000Z";
    let path = format!("{base}?expires={}&sig={sig}", encode(later));
    fetch(&server, &path, &[]).await.problem(400, "Invalid Signature");

    let other = upload(&server, &ana, "other.png", "image/png", b"other").await;
    let path =
        format!("{}?expires={}&sig={sig}", path_of(other["storageKey"].as_str().unwrap()), encode(&expires));
    fetch(&server, &path, &[]).await.problem(400, "Invalid Signature");

    // Signed with the configured secret, as a backend could: valid until it expires.
    let future = "2999-01-01T00:00:00.000Z";
    let path = format!("{base}?expires={}&sig={}", encode(future), sign(&key, future));
    assert_eq!(fetch(&server, &path, &[]).await.status, 200);
    let past = "2020-01-01T00:00:00.000Z";
    let path = format!("{base}?expires={}&sig={}", encode(past), sign(&key, past));
    let expired = fetch(&server, &path, &[]).await.problem(400, "Invalid Signature");
    assert!(expired["detail"].as_str().unwrap().contains("expired"), "{expired}");
    // A JSON file is served byte for byte, though answers of the API get signed URLs.
    let json_file = br#"{"storageKey":"K/x.png"}"#;
    let j = upload(&server, &ana, "ref.json", "application/json", json_file).await;
    let served = fetch(&server, j["downloadUrl"].as_str().unwrap(), &[]).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/json"));
    assert_eq!(&served.body[..], json_file);
    // Signatures are checked before anything is looked up: unknown keys are not revealed.
    fetch(&server, "/api/files/01HXXXXXXXXXXXXXXXXXXXXXXX/x", &[]).await.problem(400, "Invalid Signature");
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let decode =
                |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn answers_carry_signed_urls_for_uploaded_media_and_keep_outside_urls() {
    let server = signed_server();
    let (ana, conversation) = conversation_with(&server, "ana", &["ben"]).await;
    let image = upload(&server, &ana, "cat.png", "image/png", &png(40, 30)).await;
    let image_key = image["storageKey"].as_str().unwrap();
    let doc = upload(&server, &ana, "notes.txt", "text/plain", b"notes").await;
    let doc_key = doc["storageKey"].as_str().unwrap();
    let sent = send_blocks(
        &server,
        &ana,
        &conversation,
        json!([
            {"$type": "image", "source": {"storageKey": image_key}},
            {"$type": "video", "source": {"url": "https://cdn.example.com/v.mp4"}},
            {"$type": "file", "source": {"storageKey": doc_key}, "fileName": "notes.txt"}
        ]),
    )
    .await;
    let signed = sent["blocks"][0]["source"]["url"].as_str().expect("signed url on the sent message");
    assert!(signed.starts_with(&format!("{}?expires=", path_of(image_key))), "{signed}");
    assert_eq!(sent["blocks"][0]["source"]["storageKey"], image_key);
    assert_eq!(sent["blocks"][1]["source"], json!({"url": "https://cdn.example.com/v.mp4"}));
    let doc_url = sent["blocks"][2]["source"]["url"].as_str().unwrap();
    let got = fetch(&server, doc_url, &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(&got.body[..], b"notes");

    let history = server.get(&format!("/api/conversations/{conversation}/messages"), &ana).await.json();
    assert!(history["items"][0]["blocks"][0]["source"]["url"].as_str().unwrap().contains("&sig="));

    let media = server.get(&format!("/api/conversations/{conversation}/media"), &ana).await.json();
    let items = media["items"].as_array().unwrap();
    let attachment = items.iter().find(|i| i["storageKey"] == image_key).expect("image in media");
    assert!(attachment["url"].as_str().unwrap().contains("&sig="), "{attachment}");
    let link = items.iter().find(|i| i["kind"] == "Link").expect("video link in media");
    assert_eq!(link["url"], "https://cdn.example.com/v.mp4");

    // Avatars are media references too.
    let avatar = upload(&server, &ana, "me.png", "image/png", &png(8, 8)).await;
    let avatar_key = avatar["storageKey"].as_str().unwrap();
    let r = server
        .post("/api/participants", &ana, json!({"id": "ana", "uniqueName": "ana", "fullName": "Ana", "avatar": {"storageKey": avatar_key}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["avatar"]["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&server, &url, &[]).await.status, 200);
    let me = server.get("/api/participants/ana", &ana).await.json();
    assert!(me["avatar"]["url"].as_str().unwrap().contains("&sig="));

    let m = wait_for_thumbnail(&server, &ana, sent["id"].as_str().unwrap(), 0).await;
    let thumb_url = m["blocks"][0]["thumbnail"]["url"].as_str().expect("signed thumbnail url");
    let thumb = fetch(&server, thumb_url, &[]).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
}

#[tokio::test]
async fn images_get_thumbnails_recorded_on_their_block() {
    let server = quick_server(&[]);
    let (ana, conversation) = conversation_with(&server, "ana", &["ben"]).await;
    let u = upload(&server, &ana, "wide.png", "image/png", &png(800, 400)).await;
    let key = u["storageKey"].as_str().unwrap();
    let sent = send_blocks(
        &server,
        &ana,
        &conversation,
        json!([
            {"$type": "text", "format": "Plain", "content": "look"},
            {"$type": "image", "source": {"storageKey": key}, "caption": "wide"}
        ]),
    )
    .await;
    assert!(sent["blocks"][1]["thumbnail"].is_null(), "made in the background");
    let id = sent["id"].as_str().unwrap();
    let m = wait_for_thumbnail(&server, &ana, id, 1).await;
    assert!(m["blocks"][0].get("thumbnail").is_none());
    assert_eq!(m["isEdited"], false, "a thumbnail is not an edit");
    assert_eq!(m["blocks"][1]["caption"], "wide");
    let thumb_key = m["blocks"][1]["thumbnail"]["storageKey"].as_str().unwrap().to_owned();
    assert!(m["blocks"][1]["thumbnail"].get("url").is_none(), "no url without signing");
    let thumb = fetch(&server, &path_of(&thumb_key), &[]).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    let decoded = image::load_from_memory(&thumb.body).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (320, 160));

    let media = server.get(&format!("/api/conversations/{conversation}/media"), &ana).await.json();
    assert_eq!(media["items"][0]["thumbnailStorageKey"], thumb_key.as_str());

    // The same file in another message reuses its thumbnail.
    let again =
        send_blocks(&server, &ana, &conversation, json!([{"$type": "image", "source": {"storageKey": key}}]))
            .await;
    let m2 = wait_for_thumbnail(&server, &ana, again["id"].as_str().unwrap(), 0).await;
    assert_eq!(m2["blocks"][0]["thumbnail"]["storageKey"], thumb_key.as_str());

    // Deleting the file deletes its thumbnail.
    assert_eq!(send(&server, "DELETE", &path_of(key), Some(&ana), &[], Vec::new()).await.status, 204);
    fetch(&server, &path_of(&thumb_key), &[]).await.problem(404, "NotFound");
}

#[tokio::test]
async fn hostile_images_get_no_thumbnail_and_the_server_carries_on() {
    let server = quick_server(&[]);
    let (ana, conversation) = conversation_with(&server, "ana", &[]).await;
    let mut broken = png(64, 64);
    broken.truncate(broken.len() / 2);
    let garbage = upload(&server, &ana, "broken.png", "image/png", &broken).await;
    let liar = upload(&server, &ana, "liar.png", "image/png", b"GIF89a but not really").await;
    let good = upload(&server, &ana, "good.png", "image/png", &png(10, 10)).await;
    let sent = send_blocks(
        &server,
        &ana,
        &conversation,
        json!([
            {"$type": "image", "source": {"storageKey": garbage["storageKey"]}},
            {"$type": "image", "source": {"storageKey": liar["storageKey"]}},
            {"$type": "image", "source": {"storageKey": good["storageKey"]}},
            {"$type": "image", "source": {"storageKey": "01HXXXXXXXXXXXXXXXXXXXXXXX/never-uploaded.png"}}
        ]),
    )
    .await;
    let m = wait_for_thumbnail(&server, &ana, sent["id"].as_str().unwrap(), 2).await;
    for i in [0, 1, 3] {
        assert!(m["blocks"][i]["thumbnail"].is_null(), "block {i}: {m}");
    }
    assert!(server.log().contains("thumbnail: none made"), "{}", server.log());
    assert_eq!(server.get("/health/ready", &ana).await.status, 200);
}

#[tokio::test]
async fn videos_get_a_thumbnail_from_a_frame_when_ffmpeg_is_installed() {
    let ffmpeg = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !ffmpeg.is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED: ffmpeg is not on PATH, so the server makes no video thumbnails (apt-get install ffmpeg)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=10",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&video)
        .status()
        .expect("ffmpeg");
    assert!(made.success());
    let bytes = std::fs::read(&video).unwrap();

    let server = quick_server(&[]);
    let (ana, conversation) = conversation_with(&server, "ana", &[]).await;
    let u = upload(&server, &ana, "clip.mp4", "video/mp4", &bytes).await;
    let sent = send_blocks(
        &server,
        &ana,
        &conversation,
        json!([{"$type": "video", "source": {"storageKey": u["storageKey"]}, "mimeType": "video/mp4"}]),
    )
    .await;
    let m = wait_for_thumbnail(&server, &ana, sent["id"].as_str().unwrap(), 0).await;
    let thumb =
        fetch(&server, &path_of(m["blocks"][0]["thumbnail"]["storageKey"].as_str().unwrap()), &[]).await;
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    let decoded = image::load_from_memory(&thumb.body).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (320, 240));

    // Seeking needs ranges: a player asks for the end of the file first.
    let tail = fetch(&server, &path_of(u["storageKey"].as_str().unwrap()), &[("range", "bytes=-100")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(&tail.body[..], &bytes[bytes.len() - 100..]);
}

/// A `moto_server` (an S3 imitation from PyPI) on a free port, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// `None` (and a message saying why) where moto cannot run.
    fn start() -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let address = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        // The script pip installs, or the module where the script is not on PATH.
        let spawn = |program: &str, module: &[&str]| {
            Command::new(program)
                .args(module)
                .args(&address)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let mut child = match spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"]))
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!(
                    "SKIPPED: moto_server cannot run ({e}); `pip install 'moto[server]'` to test S3 storage"
                );
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "SKIPPED: moto_server exited ({status}); `pip install 'moto[server]'` to test S3 storage"
                );
                return None;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                eprintln!("SKIPPED: moto_server did not listen on port {port} within 30 s");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto { child, endpoint: format!("http://127.0.0.1:{port}") })
    }

    /// A plain (unsigned) request to moto, which does not check credentials.
    async fn request(&self, method: &str, path: &str) -> (u16, Bytes) {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let response = client.request(request).await.expect("moto answers");
        let status = response.status().as_u16();
        (status, response.into_body().collect().await.unwrap().to_bytes())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn files_can_live_in_s3_compatible_storage() {
    let Some(moto) = Moto::start() else { return };
    let (status, _) = moto.request("PUT", "/chatgate-files").await;
    assert_eq!(status, 200, "create the bucket");
    let server = quick_server(&[
        "--s3-bucket",
        "chatgate-files",
        "--s3-endpoint",
        &moto.endpoint,
        "--s3-region",
        "us-east-1",
        "--s3-access-key-id",
        "testing",
        "--s3-secret-access-key",
        "testing",
    ]);
    assert!(server.log().contains("files: s3://chatgate-files at http://127.0.0.1:"), "{}", server.log());
    let (ana, conversation) = conversation_with(&server, "ana", &[]).await;

    // Larger than one 5 MiB part: streamed as a multipart upload.
    let bytes = pattern(6 * 1024 * 1024 + 123);
    let u = upload(&server, &ana, "big.bin", "application/octet-stream", &bytes).await;
    let key = u["storageKey"].as_str().unwrap().to_owned();
    let whole = fetch(&server, &path_of(&key), &[]).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body[..] == bytes[..], "the same bytes come back");
    let part = fetch(&server, &path_of(&key), &[("range", "bytes=5242870-5242889")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], &bytes[5_242_870..5_242_890]);

    // Keys of plain ASCII names are object keys as they are.
    let (status, stored) = moto.request("GET", &format!("/chatgate-files/{key}")).await;
    assert_eq!(status, 200, "the object is in the bucket");
    assert_eq!(stored.len(), bytes.len());
    assert!(walk(&server.data_dir.join("files")).is_empty(), "nothing on local disk");

    // Thumbnails are stored in the bucket too.
    let image = upload(&server, &ana, "cat.png", "image/png", &png(64, 48)).await;
    let sent = send_blocks(
        &server,
        &ana,
        &conversation,
        json!([{"$type": "image", "source": {"storageKey": image["storageKey"]}}]),
    )
    .await;
    let m = wait_for_thumbnail(&server, &ana, sent["id"].as_str().unwrap(), 0).await;
    let thumb =
        fetch(&server, &path_of(m["blocks"][0]["thumbnail"]["storageKey"].as_str().unwrap()), &[]).await;
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));

    assert_eq!(send(&server, "DELETE", &path_of(&key), Some(&ana), &[], Vec::new()).await.status, 204);
    let (status, _) = moto.request("GET", &format!("/chatgate-files/{key}")).await;
    assert_eq!(status, 404, "deleted from the bucket");
    fetch(&server, &path_of(&key), &[]).await.problem(404, "NotFound");
}
