//! The command line explains itself and its errors name the fix.

use std::process::{Command, Output};

fn chatgate(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatgate"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("CHATGATE_BUS_URL")
        .env_remove("CHATGATE_JWT_SECRET");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("run chatgate")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn every_command_explains_itself() {
    let top = chatgate(&["--help"], &[]);
    assert!(top.status.success());
    for word in ["serve", "migrate", "token", "user", "SignalR", "Socket.IO"] {
        assert!(text(&top).contains(word), "--help lacks {word}: {}", text(&top));
    }
    for (command, expected) in [
        (
            vec!["serve", "--help"],
            vec![
                "--port",
                "CHATGATE_PORT",
                "--data-dir",
                "CHATGATE_DEV",
                "CHATGATE_JWT_SECRET",
                "DATABASE_URL",
                "CHATGATE_BUS_URL",
            ],
        ),
        (vec!["migrate", "--help"], vec!["--data-dir"]),
        (vec!["token", "--help"], vec!["--sub", "--role", "--tenant", "--name", "--ttl"]),
        (vec!["user", "add", "--help"], vec!["--username", "--password-stdin", "--role", "--tenant"]),
    ] {
        let out = chatgate(&command, &[]);
        assert!(out.status.success(), "{command:?}");
        for flag in expected {
            assert!(text(&out).contains(flag), "{command:?} lacks {flag}");
        }
    }
}

#[test]
fn migrate_creates_the_database_and_reports_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = chatgate(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("up to date"));
    assert!(data.join("chatgate.db").exists());
    // Idempotent.
    assert!(chatgate(&["migrate", "--data-dir", data.to_str().unwrap()], &[]).status.success());
}

#[test]
fn tokens_use_the_secret_kept_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let first = chatgate(&["token", "--sub", "alice", "--data-dir", data], &[]);
    assert!(first.status.success(), "{}", text(&first));
    let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
    assert_eq!(secret.len(), 64, "a generated 256-bit secret, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("jwt-secret")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the secret");
    }
    let token = String::from_utf8(first.stdout).unwrap();
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token.trim(), &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["tenant"], "default");
}

#[test]
fn bad_settings_fail_with_a_message_that_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&["token", "--sub", "a", "--role", "emperor"], &[], "unknown role"),
        (&["token", "--sub", "a", "--ttl", "soon"], &[], "30s, 15m, 1h or 7d"),
        (&["serve", "--data-dir", data, "--port", "0"], &[("DATABASE_URL", "mysql://x")], "sqlite://PATH"),
        (&["serve", "--data-dir", data, "--port", "0", "--log-format", "xml"], &[], "text or json"),
        (
            &["serve", "--data-dir", data, "--port", "0", "--config", "/nonexistent.toml"],
            &[],
            "cannot read the configuration file",
        ),
    ];
    for (args, envs, expected) in cases {
        let out = chatgate(args, envs);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_busy_port_is_reported_with_the_flag_to_change_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = chatgate(
        &["serve", "--host", "127.0.0.1", "--port", &port, "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("--port"), "{}", text(&out));
}

#[test]
fn an_unknown_configuration_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chatgate.toml");
    std::fs::write(&config, "prot = 8080\n").unwrap();
    let out = chatgate(
        &["serve", "--config", config.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("prot"), "{}", text(&out));
}
