use serde::{Deserialize, Serialize};

/// Every size chatgate accepts has a limit, and they are all here. The defaults are documented in
/// the README; operators change them in the `[limits]` table of the configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Blocks in one message.
    pub max_blocks_per_message: usize,
    /// Characters in any one text field of a block (content, caption, transcript…).
    pub max_text_chars: usize,
    /// Characters in a URL or storage key.
    pub max_url_chars: usize,
    /// Entries in a block's list: choice options, card fields and buttons, carousel cards.
    pub max_items_per_block: usize,
    /// Bytes of a custom block's `data`, as JSON.
    pub max_custom_data_bytes: usize,
    /// Mentions in one message.
    pub max_mentions: usize,
    /// Quick replies on one message.
    pub max_quick_replies: usize,
    /// Characters in a `clientMessageId`.
    pub max_client_message_id_chars: usize,
    /// Characters in an id chosen by a client (participant ids).
    pub max_id_chars: usize,
    /// Characters in a name: full names, unique names, conversation names.
    pub max_name_chars: usize,
    /// Active participants of one conversation.
    pub max_participants_per_conversation: usize,
    /// Items in one page of any listing.
    pub max_page_size: u32,
    /// Ids in one batch request.
    pub max_batch_ids: usize,
    /// Bytes in one reaction emoji.
    pub max_emoji_bytes: usize,
    /// Different emoji on one message.
    pub max_distinct_reactions: usize,
    /// Characters in a search query.
    pub max_search_chars: usize,
    /// How long after a delete the message can still be recovered, in milliseconds.
    pub recover_window_ms: i64,
    /// Bytes of one uploaded file.
    pub max_file_bytes: u64,
    /// Characters in an uploaded file's name.
    pub max_file_name_chars: usize,
    /// Media types an upload may have: exact (`application/pdf`) or ending in `*`
    /// (`image/*`, `application/vnd.openxmlformats-officedocument.*`).
    pub file_content_types: Vec<String>,
    /// How long an upload URL can be used, in milliseconds.
    pub upload_url_ttl_ms: i64,
    /// Characters in a bot's description.
    pub max_bot_description_chars: usize,
    /// Bytes of a bot's `metadata`, as JSON.
    pub max_bot_metadata_bytes: usize,
    /// Characters in a bot's topic (`kafkaTopic`); Kafka's own limit is 249.
    pub max_topic_chars: usize,
    /// Streams one bot may have open at once.
    pub max_streams_per_bot: usize,
    /// Characters in one chunk of a streamed reply.
    pub max_chunk_chars: usize,
    /// Chunks in one `POST /api/streams/{id}/chunks` (`parts`).
    pub max_chunks_per_request: usize,
    /// Characters in a support ticket's title.
    pub max_ticket_title_chars: usize,
    /// Attachments (URLs) on one support ticket message.
    pub max_ticket_attachments: usize,
    /// Tickets in one `TICKET_LIST` (the most recently changed).
    pub max_ticket_list: u32,
    /// Events in one `POST /api/connectors/{id}/events`.
    pub max_channel_events_per_request: usize,
    /// Bytes of a connector message's `raw` platform object, as JSON.
    pub max_channel_raw_bytes: usize,
    /// Characters of a connector's QR code (a `data:` URL).
    pub max_qr_code_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blocks_per_message: 50,
            max_text_chars: 16_384,
            max_url_chars: 2_048,
            max_items_per_block: 50,
            max_custom_data_bytes: 16_384,
            max_mentions: 100,
            max_quick_replies: 13,
            max_client_message_id_chars: 128,
            max_id_chars: 128,
            max_name_chars: 256,
            max_participants_per_conversation: 1_000,
            max_page_size: 100,
            max_batch_ids: 100,
            max_emoji_bytes: 64,
            max_distinct_reactions: 50,
            max_search_chars: 200,
            recover_window_ms: 10 * 60 * 1000,
            max_file_bytes: 50 * 1024 * 1024,
            max_file_name_chars: 255,
            file_content_types: default_file_content_types(),
            upload_url_ttl_ms: 15 * 60 * 1000,
            max_bot_description_chars: 2_048,
            max_bot_metadata_bytes: 16_384,
            max_topic_chars: 249,
            max_streams_per_bot: 16,
            max_chunk_chars: 4_096,
            max_chunks_per_request: 100,
            max_ticket_title_chars: 200,
            max_ticket_attachments: 10,
            max_ticket_list: 200,
            max_channel_events_per_request: 100,
            max_channel_raw_bytes: 65_536,
            max_qr_code_chars: 16_384,
        }
    }
}

/// What may be uploaded by default: media, documents and archives. Types a browser would run
/// when opened from the server's own origin (HTML, SVG, JavaScript, XML) are left out.
fn default_file_content_types() -> Vec<String> {
    [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/bmp",
        "image/tiff",
        "video/*",
        "audio/*",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
        "application/zip",
        "application/gzip",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.*",
        "application/vnd.oasis.opendocument.*",
        "application/octet-stream",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}
