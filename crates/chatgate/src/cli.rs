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
// Parsed once at start; boxing the large `serve` variant would buy nothing.
#[allow(clippy::large_enum_variant)]
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
    #[command(flatten)]
    pub files: FileArgs,
    /// Services reachable through /api/proxy/{name}/…, as `name=URL` pairs separated by commas.
    #[arg(long, env = "CHATGATE_PROXY_SERVICES", value_name = "LIST")]
    pub proxy_services: Option<String>,
    /// How long a proxied service may take to answer, in milliseconds [default: 30000].
    #[arg(long, env = "CHATGATE_PROXY_TIMEOUT_MS", value_name = "MS")]
    pub proxy_timeout_ms: Option<u64>,
    /// Google OAuth client id: enables POST /api/auth/google for ID tokens issued to it.
    #[arg(long, env = "CHATGATE_GOOGLE_CLIENT_ID", value_name = "ID")]
    pub google_client_id: Option<String>,
    /// Google's key set: an https URL or a JWKS file [default: https://www.googleapis.com/oauth2/v3/certs].
    #[arg(long, env = "CHATGATE_GOOGLE_JWKS_URL", value_name = "URL")]
    pub google_jwks_url: Option<String>,
    /// DsAccount token introspection endpoint (RFC 7662): enables POST /api/auth/dsaccount.
    #[arg(long, env = "CHATGATE_DSACCOUNT_INTROSPECT_URL", value_name = "URL")]
    pub dsaccount_introspect_url: Option<String>,
    /// Client id chatgate authenticates to the introspection endpoint with (HTTP Basic).
    #[arg(long, env = "CHATGATE_DSACCOUNT_CLIENT_ID", value_name = "ID")]
    pub dsaccount_client_id: Option<String>,
    /// Client secret for the introspection endpoint.
    #[arg(long, env = "CHATGATE_DSACCOUNT_CLIENT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub dsaccount_client_secret: Option<String>,
    /// Bot stream chunks arriving within this many milliseconds go out together; 0 sends each alone [default: 50].
    #[arg(long, env = "CHATGATE_STREAM_COALESCE_MS", value_name = "MS")]
    pub stream_coalesce_ms: Option<u64>,
    /// A bot stream with no call for this many milliseconds is aborted [default: 60000].
    #[arg(long, env = "CHATGATE_STREAM_IDLE_TIMEOUT_MS", value_name = "MS")]
    pub stream_idle_timeout_ms: Option<u64>,
    /// Tries per bot webhook delivery, the first included [default: 5].
    #[arg(long, env = "CHATGATE_WEBHOOK_MAX_ATTEMPTS", value_name = "N")]
    pub webhook_max_attempts: Option<u32>,
    /// Wait before the first webhook retry, doubled after each [default: 500].
    #[arg(long, env = "CHATGATE_WEBHOOK_BACKOFF_MS", value_name = "MS")]
    pub webhook_backoff_ms: Option<u64>,
    /// How long one webhook POST may take [default: 10000].
    #[arg(long, env = "CHATGATE_WEBHOOK_TIMEOUT_MS", value_name = "MS")]
    pub webhook_timeout_ms: Option<u64>,
    /// Also add every bot delivery to the Redis stream named after the bot's topic, like redis://127.0.0.1:6379/0.
    #[arg(long, env = "CHATGATE_BOT_TOPIC_REDIS_URL", value_name = "URL")]
    pub bot_topic_redis_url: Option<String>,
    /// Lifetime of customer tokens, like 30m, 24h, 7d [default: 24h].
    #[arg(long, env = "CHATGATE_CUSTOMER_TOKEN_TTL", value_name = "DURATION")]
    pub customer_token_ttl: Option<String>,
    /// Tenant of customers created by the public token endpoint [default: default].
    #[arg(long, env = "CHATGATE_CUSTOMER_TENANT", value_name = "TENANT")]
    pub customer_tenant: Option<String>,
}

/// Uploaded files: where they are kept and how downloads are authorized.
#[derive(Args, Debug, Default)]
pub struct FileArgs {
    /// Downloads need a signed URL (`expires` + `sig`); answers carry signed `url`s in media references.
    #[arg(long, env = "CHATGATE_FILES_SIGNED")]
    pub files_signed: bool,
    /// Key for signing download URLs [default: derived from the token secret].
    #[arg(long, env = "CHATGATE_FILES_SIGNING_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub files_signing_secret: Option<String>,
    /// How long a signed download URL stays valid, like 15m or 1h [default: 1h].
    #[arg(long, env = "CHATGATE_FILES_URL_TTL", value_name = "DURATION")]
    pub files_url_ttl: Option<String>,
    /// Keep files in this S3 (or S3-compatible) bucket instead of <data-dir>/files.
    #[arg(long, env = "CHATGATE_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// Endpoint of an S3-compatible service, like http://127.0.0.1:9000 [default: AWS_ENDPOINT, else AWS].
    #[arg(long, env = "CHATGATE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Bucket region [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "CHATGATE_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Access key id [default: AWS_ACCESS_KEY_ID, else the AWS credential chain].
    #[arg(long, env = "CHATGATE_S3_ACCESS_KEY_ID", value_name = "ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    /// Secret access key [default: AWS_SECRET_ACCESS_KEY].
    #[arg(long, env = "CHATGATE_S3_SECRET_ACCESS_KEY", value_name = "SECRET", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
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
