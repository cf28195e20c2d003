//! The servers compared, started fresh for each scenario, and rooms built on each in its own
//! protocol: chatgate's support desk (Socket.IO) and chat hub (SignalR), the Node socket.io
//! peer, and the raw WebSocket peer.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::conn::{Conn, Protocol};
use crate::http::Connection;
use crate::server::{BENCH_CONFIG, Server, token, token_in};
use crate::signalr::HubClient;
use crate::socketio::SocketIoClient;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// chatgate's `/support` namespace: a ticket room, SEND_MESSAGE → NEW_MESSAGE, stored.
    ChatgateSocketIo,
    /// chatgate's `/hubs/chat`: a conversation group, SendMessage → MessageReceived, stored.
    ChatgateSignalR,
    /// The Node socket.io 4.x server: a room, `send` → `message`, nothing stored.
    NodeSocketIo,
    /// Frames forwarded as they are to the room: the raw limit.
    Raw,
}

impl Kind {
    /// The name `--targets` knows it by.
    pub fn named(name: &str) -> Option<Kind> {
        match name {
            "socketio" => Some(Kind::ChatgateSocketIo),
            "signalr" => Some(Kind::ChatgateSignalR),
            "node" => Some(Kind::NodeSocketIo),
            "raw" => Some(Kind::Raw),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::ChatgateSocketIo => "chatgate Socket.IO",
            Kind::ChatgateSignalR => "chatgate SignalR",
            Kind::NodeSocketIo => "Node socket.io",
            Kind::Raw => "raw WebSocket",
        }
    }
}

/// Where the binaries and the Node peer are.
#[derive(Clone, Debug)]
pub struct Bins {
    pub chatgate: PathBuf,
    pub raw_peer: PathBuf,
    pub node_peer: PathBuf,
}

enum Process {
    Chatgate(Server),
    Peer(Child),
}

pub struct Target {
    pub kind: Kind,
    pub base: String,
    pid: u32,
    process: Process,
}

async fn spawn_peer(mut command: Command) -> anyhow::Result<(Child, String)> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(a) = line.split("listening on ").nth(1) {
                return Ok::<_, anyhow::Error>(a.trim().to_owned());
            }
        }
        bail!("the peer exited before listening")
    })
    .await
    .context("the peer did not start within 30 s")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, base))
}

impl Target {
    pub async fn start(kind: Kind, bins: &Bins) -> anyhow::Result<Target> {
        match kind {
            Kind::ChatgateSocketIo | Kind::ChatgateSignalR => {
                let server = Server::start_with_config(&bins.chatgate, BENCH_CONFIG, &[]).await?;
                Ok(Target {
                    kind,
                    base: server.base.clone(),
                    pid: server.pid(),
                    process: Process::Chatgate(server),
                })
            }
            Kind::NodeSocketIo => {
                let mut command = Command::new("node");
                command.arg("server.mjs").current_dir(&bins.node_peer);
                let (child, base) = spawn_peer(command).await?;
                Ok(Target { kind, pid: child.id().unwrap_or(0), base, process: Process::Peer(child) })
            }
            Kind::Raw => {
                let (child, base) = spawn_peer(Command::new(&bins.raw_peer)).await?;
                Ok(Target { kind, pid: child.id().unwrap_or(0), base, process: Process::Peer(child) })
            }
        }
    }

    pub async fn stop(self) {
        match self.process {
            Process::Chatgate(server) => server.stop().await,
            Process::Peer(mut child) => {
                let _ = child.kill().await;
            }
        }
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .context("no VmRSS")?;
        Ok(kib * 1024.0)
    }

    /// CPU time the server process has used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid)
    }

    fn ws_base(&self) -> String {
        self.base.replacen("http", "ws", 1)
    }
}

/// CPU time process `pid` has used (user and system), in seconds; 0 when unknown.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / per_second
}

/// Builds the frame a sender sends for a marker.
pub type FrameFn = Box<dyn Fn(&str) -> String + Send + Sync>;

/// One sending connection, and how its frames look.
pub struct Sender {
    pub conn: Conn,
    pub frame: FrameFn,
}

async fn raw_conn(url: &str) -> anyhow::Result<Conn> {
    let socket = crate::ws::connect(url).await?;
    Ok(Conn::new(Protocol::Raw, socket))
}

async fn sio_conn(base: &str, namespace: &str, auth: &Value) -> anyhow::Result<SocketIoClient> {
    SocketIoClient::connect_with_auth(base, namespace, auth).await
}

fn sio(client: SocketIoClient) -> Conn {
    Conn::new(Protocol::SocketIo, client.into_socket())
}

fn hub(client: HubClient) -> Conn {
    Conn::from_parts(Protocol::SignalR, client.sink, client.stream)
}

/// Runs `make` for each of `0..n`, a few hundred at a time.
pub async fn connect_many<T, F, Fut>(n: usize, make: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let batch = (i..(i + 200).min(n)).map(&make);
        for r in futures_util::future::join_all(batch).await {
            out.push(r?);
        }
        i = (i + 200).min(n);
    }
    Ok(out)
}

async fn participants(base: &str, ids: &[String]) -> anyhow::Result<()> {
    let mut http = Connection::open(base).await?;
    for id in ids {
        let body = json!({"id": id, "uniqueName": id, "fullName": id});
        http.expect(200, "POST", "/api/participants", &token(id), Some(&body)).await?;
    }
    Ok(())
}

async fn conversation(base: &str, owner: &str, members: &[String]) -> anyhow::Result<String> {
    let mut http = Connection::open(base).await?;
    let c = http
        .expect(201, "POST", "/api/conversations", &token(owner), Some(&json!({"participantIds": members})))
        .await?;
    Ok(c["id"].as_str().unwrap_or_default().to_owned())
}

fn hub_send_frame(conversation: String) -> FrameFn {
    Box::new(move |marker: &str| {
        let invocation = json!({"type": 1, "target": "SendMessage", "arguments": [{
            "conversationId": conversation,
            "blocks": [{"$type": "text", "format": "Plain", "content": marker}],
        }]});
        format!("{invocation}\u{1e}")
    })
}

/// `k` receivers in one room and `senders` senders who are not among them.
pub async fn broadcast_room(
    target: &Target,
    room: &str,
    k: usize,
    senders: usize,
) -> anyhow::Result<(Vec<Conn>, Vec<Sender>)> {
    let base = target.base.clone();
    let senders = senders.max(1);
    match target.kind {
        Kind::ChatgateSocketIo => {
            // The requester's sockets: one opens the ticket, the receivers join its room, and
            // the senders are more sockets of the requester.
            let user = format!("{room}-requester");
            let auth = json!({"token": token(&user)});
            let mut opener = sio_conn(&base, "/support", &auth).await?;
            let ticket = json!({"title": room, "category": "GENERAL", "message": "open", "priority": "LOW"});
            opener.emit("CREATE_TICKET", &ticket).await?;
            let ticket_id =
                opener.next_event("NEW_TICKET").await?["id"].as_str().unwrap_or_default().to_owned();
            let receivers = connect_many(k, |_| {
                let (base, auth, ticket_id) = (base.clone(), auth.clone(), ticket_id.clone());
                async move {
                    let mut c = sio_conn(&base, "/support", &auth).await?;
                    c.emit("JOIN_ROOM", &json!({"ticketId": ticket_id})).await?;
                    c.next_event("TICKET_LIST").await?;
                    Ok(sio(c))
                }
            })
            .await?;
            let frame = |ticket_id: String| -> FrameFn {
                Box::new(move |marker: &str| {
                    let payload = json!({"ticketId": ticket_id, "message": marker});
                    format!("42/support,{}", json!(["SEND_MESSAGE", payload]))
                })
            };
            let mut out = vec![Sender { conn: sio(opener), frame: frame(ticket_id.clone()) }];
            for _ in 1..senders {
                let conn = sio(sio_conn(&base, "/support", &auth).await?);
                out.push(Sender { conn, frame: frame(ticket_id.clone()) });
            }
            Ok((receivers, out))
        }
        Kind::ChatgateSignalR => {
            let sender_id = format!("{room}-sender");
            let ids: Vec<String> = (0..k).map(|i| format!("{room}-{i}")).collect();
            let mut everyone = ids.clone();
            everyone.push(sender_id.clone());
            participants(&base, &everyone).await?;
            let id = conversation(&base, &sender_id, &ids).await?;
            let receivers = connect_many(k, |i| {
                let (base, id, who) = (base.clone(), id.clone(), ids[i].clone());
                async move {
                    let mut c = HubClient::connect(&base, "chat", &token(&who)).await?;
                    c.invoke("JoinConversation", json!([id])).await?;
                    Ok(hub(c))
                }
            })
            .await?;
            let mut out = Vec::with_capacity(senders);
            for _ in 0..senders {
                let conn = hub(HubClient::connect(&base, "chat", &token(&sender_id)).await?);
                out.push(Sender { conn, frame: hub_send_frame(id.clone()) });
            }
            Ok((receivers, out))
        }
        Kind::NodeSocketIo => {
            let auth = json!({"room": room});
            let receivers = connect_many(k, |_| {
                let (base, auth) = (base.clone(), auth.clone());
                async move { Ok(sio(sio_conn(&base, "/bench", &auth).await?)) }
            })
            .await?;
            let mut out = Vec::with_capacity(senders);
            for _ in 0..senders {
                let conn = sio(sio_conn(&base, "/bench", &auth).await?);
                let frame: FrameFn = Box::new(|marker: &str| format!("42/bench,{}", json!(["send", marker])));
                out.push(Sender { conn, frame });
            }
            Ok((receivers, out))
        }
        Kind::Raw => {
            let url = format!("{}/{room}", target.ws_base());
            let receivers = connect_many(k, |_| {
                let url = url.clone();
                async move { raw_conn(&url).await }
            })
            .await?;
            let mut out = Vec::with_capacity(senders);
            for _ in 0..senders {
                let frame: FrameFn = Box::new(|marker: &str| marker.to_owned());
                out.push(Sender { conn: raw_conn(&url).await?, frame });
            }
            Ok((receivers, out))
        }
    }
}

/// `pairs` rooms of two; in each, both connections send to the other.
pub async fn pair_rooms(target: &Target, pairs: usize) -> anyhow::Result<Vec<(Sender, Sender)>> {
    let base = target.base.clone();
    match target.kind {
        Kind::ChatgateSignalR => {
            let ids: Vec<String> = (0..pairs * 2).map(|i| format!("pair-{i}")).collect();
            participants(&base, &ids).await?;
            let mut conversations = Vec::with_capacity(pairs);
            for p in 0..pairs {
                conversations
                    .push(conversation(&base, &ids[2 * p], std::slice::from_ref(&ids[2 * p + 1])).await?);
            }
            let conns = connect_many(pairs * 2, |i| {
                let (base, who, id) = (base.clone(), ids[i].clone(), conversations[i / 2].clone());
                async move {
                    let mut c = HubClient::connect(&base, "chat", &token(&who)).await?;
                    c.invoke("JoinConversation", json!([id])).await?;
                    Ok(hub(c))
                }
            })
            .await?;
            Ok(pair_up(conns, |p| hub_send_frame(conversations[p].clone())))
        }
        Kind::NodeSocketIo => {
            let conns = connect_many(pairs * 2, |i| {
                let base = base.clone();
                async move {
                    Ok(sio(sio_conn(&base, "/bench", &json!({"room": format!("pair-{}", i / 2)})).await?))
                }
            })
            .await?;
            Ok(pair_up(conns, |_| Box::new(|marker: &str| format!("42/bench,{}", json!(["send", marker])))))
        }
        Kind::Raw => {
            let ws = target.ws_base();
            let conns = connect_many(pairs * 2, |i| {
                let url = format!("{ws}/pair-{}", i / 2);
                async move { raw_conn(&url).await }
            })
            .await?;
            Ok(pair_up(conns, |_| Box::new(|marker: &str| marker.to_owned())))
        }
        Kind::ChatgateSocketIo => {
            // Each room is a ticket: its requester opens it, an admin joins its room. Admins see
            // every ticket of their tenant, so each pair is a tenant of its own; otherwise this
            // would be a broadcast to every admin.
            let requesters = connect_many(pairs, |p| {
                let base = base.clone();
                async move {
                    let mut c = sio_conn(
                        &base,
                        "/support",
                        &json!({"token": token_in(&format!("pair-{p}"), "user", &format!("t{p}"))}),
                    )
                    .await?;
                    let ticket =
                        json!({"title": "pair", "category": "GENERAL", "message": "open", "priority": "LOW"});
                    c.emit("CREATE_TICKET", &ticket).await?;
                    let id = c.next_event("NEW_TICKET").await?["id"].as_str().unwrap_or_default().to_owned();
                    Ok((c, id))
                }
            })
            .await?;
            let tickets: Vec<String> = requesters.iter().map(|(_, id)| id.clone()).collect();
            let admins = connect_many(pairs, |p| {
                let (base, id) = (base.clone(), tickets[p].clone());
                async move {
                    let auth =
                        json!({"token": token_in(&format!("pair-admin-{p}"), "admin", &format!("t{p}"))});
                    let mut c = sio_conn(&base, "/support", &auth).await?;
                    c.emit("JOIN_ROOM", &json!({"ticketId": id})).await?;
                    c.next_event("TICKET_LIST").await?;
                    Ok(c)
                }
            })
            .await?;
            let mut conns = Vec::with_capacity(pairs * 2);
            for ((requester, _), admin) in requesters.into_iter().zip(admins) {
                conns.push(sio(requester));
                conns.push(sio(admin));
            }
            Ok(pair_up(conns, |p| {
                let id = tickets[p].clone();
                Box::new(move |marker: &str| {
                    format!("42/support,{}", json!(["SEND_MESSAGE", {"ticketId": id, "message": marker}]))
                })
            }))
        }
    }
}

fn pair_up(conns: Vec<Conn>, frame: impl Fn(usize) -> FrameFn) -> Vec<(Sender, Sender)> {
    let mut out = Vec::with_capacity(conns.len() / 2);
    let mut it = conns.into_iter().enumerate();
    while let (Some((i, a)), Some((_, b))) = (it.next(), it.next()) {
        let p = i / 2;
        out.push((Sender { conn: a, frame: frame(p) }, Sender { conn: b, frame: frame(p) }));
    }
    out
}

/// `n` connections that do nothing but stay connected.
pub async fn idle(target: &Target, n: usize) -> anyhow::Result<Vec<Conn>> {
    let base = target.base.clone();
    match target.kind {
        // A guest of the support desk: no token, no room but its own.
        Kind::ChatgateSocketIo => {
            connect_many(n, |_| {
                let base = base.clone();
                async move { Ok(sio(sio_conn(&base, "/support", &json!({})).await?)) }
            })
            .await
        }
        Kind::ChatgateSignalR => {
            let t = token("idle");
            connect_many(n, |_| {
                let (base, t) = (base.clone(), t.clone());
                async move { Ok(hub(HubClient::connect(&base, "notifications", &t).await?)) }
            })
            .await
        }
        Kind::NodeSocketIo => connect_many(n, |i| {
            let base = base.clone();
            async move { Ok(sio(sio_conn(&base, "/bench", &json!({"room": format!("idle-{i}")})).await?)) }
        })
        .await,
        Kind::Raw => {
            let ws = target.ws_base();
            connect_many(n, |i| {
                let url = format!("{ws}/idle-{i}");
                async move { raw_conn(&url).await }
            })
            .await
        }
    }
}

pub fn default_bins() -> Bins {
    let dir =
        std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
    Bins {
        chatgate: dir.join("chatgate"),
        raw_peer: dir.join("raw-peer"),
        node_peer: PathBuf::from("bench/peers/socketio-node"),
    }
}
