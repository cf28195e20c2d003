//! The command line. Every setting is a flag and a `CHATGATE_*` variable; a TOML file
//! (`--config`) can hold the rest. Precedence: flag, then variable, then file, then default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chatgate",
    version,
    about = "One server for real-time chat and customer messaging.",
    long_about = "chatgate keeps conversations for apps, support desks, bots and social-channel \
inboxes, and speaks the protocols their clients already use: SignalR, Socket.IO, plain JSON \
over WebSocket and REST, all on one port.\n\nStart with `chatgate serve --dev` and open \
http://localhost:8080/health/ready.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server: REST, hubs, Socket.IO and WebSocket on one port.
    #[command(long_about = "Run the server. With no configuration it listens on 0.0.0.0:8080, \
keeps an SQLite database and uploaded files in ./data, generates a signing secret there on first \
start, and applies database migrations.")]
    Serve(ServeArgs),
    /// Apply database migrations and exit (serve also does this on start).
    Migrate(StoreArgs),
    /// Print a signed JWT that the server accepts, for scripts and tests.
    #[command(long_about = "Print a signed JWT (HS256) that a server with the same secret \
accepts. The secret is CHATGATE_JWT_SECRET, or the one generated in the data directory.\n\n\
Example: chatgate token --sub alice --role user --name Alice --ttl 1h")]
    Token(TokenArgs),
    /// Manage password logins (agents, admins, dev users).
    #[command(subcommand)]
    User(UserCommand),
}

/// Where the data lives; shared by every command that opens the store.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "CHATGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, uploaded files and the generated secret [default: ./data].
    #[arg(long, env = "CHATGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database: unset for the embedded SQLite file in the data directory, or `sqlite://PATH`.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "CHATGATE_HOST", value_name = "ADDR")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one [default: 8080].
    #[arg(long, short, env = "CHATGATE_PORT")]
    pub port: Option<u16>,
    /// Enable dev login (`POST /api/auth/dev`), which creates users on first login.
    #[arg(long, env = "CHATGATE_DEV")]
    pub dev: bool,
    /// Secret for signing tokens (its UTF-8 bytes are the HS256 key) [default: generated and kept in the data directory].
    #[arg(long, env = "CHATGATE_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Event bus: unset for in-process (one node).
    #[arg(long, env = "CHATGATE_BUS_URL", value_name = "URL", hide_env_values = true)]
    pub bus_url: Option<String>,
    /// Log filter, e.g. `info` or `chatgate=debug,info` [default: info].
    #[arg(long, env = "CHATGATE_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "CHATGATE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "CHATGATE_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Lifetime of tokens issued at login, like 30m, 24h, 7d [default: 24h].
    #[arg(long, env = "CHATGATE_LOGIN_TOKEN_TTL", value_name = "DURATION")]
    pub login_token_ttl: Option<String>,
    /// SQLite durability: full (survives power loss) or normal (survives a process crash) [default: full].
    #[arg(long, env = "CHATGATE_SQLITE_DURABILITY", value_name = "LEVEL")]
    pub sqlite_durability: Option<String>,
    /// Requests per second per client address, 0 for no limit [default: 200].
    #[arg(long, env = "CHATGATE_RATE_LIMIT_PER_IP", value_name = "N")]
    pub rate_limit_per_ip: Option<u32>,
    /// Requests per second per participant, 0 for no limit [default: 100].
    #[arg(long, env = "CHATGATE_RATE_LIMIT_PER_USER", value_name = "N")]
    pub rate_limit_per_user: Option<u32>,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The participant id the token speaks for (`sub`).
    #[arg(long)]
    pub sub: String,
    /// user, agent, admin, dev or bot.
    #[arg(long, default_value = "user")]
    pub role: String,
    /// The tenant (workspace) of the participant.
    #[arg(long, default_value = chatgate_core::DEFAULT_TENANT)]
    pub tenant: String,
    /// Display name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime, like 30m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Signing secret [default: CHATGATE_JWT_SECRET, or the one kept in the data directory].
    #[arg(long, env = "CHATGATE_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a password login (the password is read from standard input).
    #[command(long_about = "Create a password login and its participant.\n\n\
Example: printf 'secret' | chatgate user add --username ana --password-stdin --role agent --tenant acme")]
    Add(UserAddArgs),
}

#[derive(Args, Debug)]
pub struct UserAddArgs {
    #[arg(long)]
    pub username: String,
    /// Read the password from standard input (required: passwords never go on the command line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// agent, admin, dev or user.
    #[arg(long, default_value = "agent")]
    pub role: String,
    #[arg(long, default_value = chatgate_core::DEFAULT_TENANT)]
    pub tenant: String,
    /// Display name [default: the username].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}
