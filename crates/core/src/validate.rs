//! Input rules: sizes, required fields, ranges. Each check names the field it failed on, so a
//! door can list every failure at once (RFC 7807 `errors[]`).

use crate::error::{CoreError, CoreResult, FieldError};
use crate::limits::Limits;
use crate::model::*;

/// Collects failures; `finish` turns them into one validation error.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn new() -> Self {
        Check::default()
    }

    pub fn fail(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.errors.push(FieldError::new(field, description));
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> CoreResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(CoreError::validation(self.errors)) }
    }

    /// A string of at most `max` characters (optionally required to be non-blank).
    pub fn text(&mut self, field: &str, value: &str, max: usize, required: bool) {
        if required && value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max, false);
        }
    }

    /// An identifier: 1..=max characters, no whitespace or control characters.
    pub fn id(&mut self, field: &str, value: &str, max: usize) {
        if value.is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.fail(field, "must not contain spaces or control characters");
        }
    }

    pub fn media(&mut self, field: &str, media: &MediaReference, limits: &Limits) {
        if media.is_empty() {
            self.fail(field, "needs a `storageKey` or a `url`");
        }
        if let Some(key) = &media.storage_key {
            self.text(&format!("{field}.storageKey"), key, limits.max_url_chars, false);
        }
        if let Some(url) = &media.url {
            self.text(&format!("{field}.url"), url, limits.max_url_chars, false);
        }
    }

    fn opt_media(&mut self, field: &str, media: Option<&MediaReference>, limits: &Limits) {
        if let Some(m) = media {
            self.media(field, m, limits);
        }
    }

    fn count<T>(&mut self, field: &str, items: &[T], min: usize, max: usize) {
        if items.len() < min {
            self.fail(field, format!("needs at least {min} entries"));
        } else if items.len() > max {
            self.fail(field, format!("must have at most {max} entries"));
        }
    }

    fn finite(&mut self, field: &str, value: Option<f64>, min: f64, max: f64) {
        if let Some(v) = value
            && !(v.is_finite() && (min..=max).contains(&v))
        {
            self.fail(field, format!("must be a number from {min} to {max}"));
        }
    }

    pub fn blocks(&mut self, field: &str, blocks: &[Block], limits: &Limits) {
        self.count(field, blocks, 1, limits.max_blocks_per_message);
        for (i, block) in blocks.iter().enumerate() {
            self.block(&format!("{field}[{i}]"), block, limits);
        }
    }

    fn block(&mut self, f: &str, block: &Block, l: &Limits) {
        let max = l.max_text_chars;
        match block {
            Block::Text(b) => {
                self.text(&format!("{f}.content"), &b.content, max, true);
                self.opt_text(&format!("{f}.plainText"), b.plain_text.as_deref(), max);
            }
            Block::Image(b) => {
                self.media(&format!("{f}.source"), &b.source, l);
                self.opt_media(&format!("{f}.thumbnail"), b.thumbnail.as_ref(), l);
                self.opt_text(&format!("{f}.altText"), b.alt_text.as_deref(), max);
                self.opt_text(&format!("{f}.caption"), b.caption.as_deref(), max);
            }
            Block::Video(b) => {
                self.media(&format!("{f}.source"), &b.source, l);
                self.opt_media(&format!("{f}.thumbnail"), b.thumbnail.as_ref(), l);
                self.opt_text(&format!("{f}.caption"), b.caption.as_deref(), max);
                self.opt_text(&format!("{f}.mimeType"), b.mime_type.as_deref(), 255);
                self.finite(&format!("{f}.durationSeconds"), b.duration_seconds, 0.0, 1e9);
            }
            Block::Audio(b) => {
                self.media(&format!("{f}.source"), &b.source, l);
                self.opt_text(&format!("{f}.mimeType"), b.mime_type.as_deref(), 255);
                self.opt_text(&format!("{f}.transcript"), b.transcript.as_deref(), max);
                self.finite(&format!("{f}.durationSeconds"), b.duration_seconds, 0.0, 1e9);
            }
            Block::File(b) => {
                self.media(&format!("{f}.source"), &b.source, l);
                self.text(&format!("{f}.fileName"), &b.file_name, 255, true);
                self.opt_text(&format!("{f}.mimeType"), b.mime_type.as_deref(), 255);
            }
            Block::LinkPreview(b) => {
                self.text(&format!("{f}.url"), &b.url, l.max_url_chars, true);
                self.opt_text(&format!("{f}.title"), b.title.as_deref(), max);
                self.opt_text(&format!("{f}.description"), b.description.as_deref(), max);
                self.opt_media(&format!("{f}.image"), b.image.as_ref(), l);
                self.opt_text(&format!("{f}.siteName"), b.site_name.as_deref(), max);
            }
            Block::Embed(b) => {
                self.text(&format!("{f}.url"), &b.url, l.max_url_chars, true);
                self.opt_text(&format!("{f}.html"), b.html.as_deref(), max);
            }
            Block::Location(b) => {
                self.finite(&format!("{f}.latitude"), Some(b.latitude), -90.0, 90.0);
                self.finite(&format!("{f}.longitude"), Some(b.longitude), -180.0, 180.0);
                self.opt_text(&format!("{f}.name"), b.name.as_deref(), max);
                self.opt_text(&format!("{f}.address"), b.address.as_deref(), max);
            }
            Block::Contact(b) => {
                self.text(&format!("{f}.displayName"), &b.display_name, l.max_name_chars, true);
                self.opt_text(&format!("{f}.phone"), b.phone.as_deref(), 64);
                self.opt_text(&format!("{f}.email"), b.email.as_deref(), 320);
                self.opt_text(&format!("{f}.organization"), b.organization.as_deref(), max);
            }
            Block::Choice(b) => {
                self.text(&format!("{f}.prompt"), &b.prompt, max, true);
                self.count(&format!("{f}.options"), &b.options, 1, l.max_items_per_block);
                for (i, o) in b.options.iter().enumerate() {
                    self.text(&format!("{f}.options[{i}].label"), &o.label, max, true);
                    self.text(&format!("{f}.options[{i}].value"), &o.value, max, false);
                }
            }
            Block::Card(card) => self.card(f, card, l),
            Block::Carousel(b) => {
                self.count(&format!("{f}.cards"), &b.cards, 1, l.max_items_per_block);
                for (i, card) in b.cards.iter().enumerate() {
                    self.card(&format!("{f}.cards[{i}]"), &card.0, l);
                }
            }
            Block::Divider => {}
            Block::Custom(b) => {
                self.text(&format!("{f}.type"), &b.custom_type, 128, true);
                if let Some(data) = &b.data {
                    let size = serde_json::to_vec(data).map(|v| v.len()).unwrap_or(usize::MAX);
                    if size > l.max_custom_data_bytes {
                        self.fail(
                            format!("{f}.data"),
                            format!("must be at most {} bytes of JSON", l.max_custom_data_bytes),
                        );
                    }
                }
            }
        }
    }

    fn card(&mut self, f: &str, card: &CardBlock, l: &Limits) {
        let max = l.max_text_chars;
        self.opt_text(&format!("{f}.title"), card.title.as_deref(), max);
        self.opt_text(&format!("{f}.subtitle"), card.subtitle.as_deref(), max);
        self.opt_media(&format!("{f}.image"), card.image.as_ref(), l);
        if let Some(fields) = &card.fields {
            self.count(&format!("{f}.fields"), fields, 0, l.max_items_per_block);
            for (i, field) in fields.iter().enumerate() {
                self.text(&format!("{f}.fields[{i}].label"), &field.label, max, true);
                self.text(&format!("{f}.fields[{i}].value"), &field.value, max, false);
            }
        }
        if let Some(buttons) = &card.buttons {
            self.count(&format!("{f}.buttons"), buttons, 0, l.max_items_per_block);
            for (i, b) in buttons.iter().enumerate() {
                self.text(&format!("{f}.buttons[{i}].label"), &b.label, max, true);
                self.opt_text(&format!("{f}.buttons[{i}].value"), b.value.as_deref(), max);
            }
        }
    }

    pub fn mentions(&mut self, field: &str, mentions: &[Mention], l: &Limits) {
        self.count(field, mentions, 0, l.max_mentions);
        for (i, m) in mentions.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.text(&format!("{f}.displayName"), &m.display_name, l.max_name_chars, false);
            match (&m.mention_type, &m.target_id) {
                (MentionType::User | MentionType::Role, None) => {
                    self.fail(format!("{f}.targetId"), "is required for User and Role mentions")
                }
                (_, Some(t)) => self.id(&format!("{f}.targetId"), t, l.max_id_chars),
                _ => {}
            }
        }
    }

    pub fn quick_replies(&mut self, field: &str, replies: &[QuickReply], l: &Limits) {
        self.count(field, replies, 0, l.max_quick_replies);
        for (i, q) in replies.iter().enumerate() {
            self.text(&format!("{field}[{i}].label"), &q.label, l.max_name_chars, true);
            self.opt_text(&format!("{field}[{i}].value"), q.value.as_deref(), l.max_text_chars);
            self.opt_text(&format!("{field}[{i}].icon"), q.icon.as_deref(), l.max_url_chars);
        }
    }

    pub fn emoji(&mut self, field: &str, emoji: &str, l: &Limits) {
        if emoji.is_empty() {
            self.fail(field, "must not be empty");
        } else if emoji.len() > l.max_emoji_bytes {
            self.fail(field, format!("must be at most {} bytes", l.max_emoji_bytes));
        } else if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.fail(field, "must not contain spaces or control characters");
        }
    }
}

/// The searchable plain text of a message: every text and caption-like field, one per line.
pub fn plain_text_of(blocks: &[Block]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut push = |s: Option<&str>| {
        if let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) {
            parts.push(s.to_owned());
        }
    };
    for block in blocks {
        match block {
            Block::Text(t) => match (&t.plain_text, t.format) {
                (Some(p), _) => push(Some(p)),
                (None, TextFormat::Plain | TextFormat::Markdown) => push(Some(&t.content)),
                (None, TextFormat::Html) => push(Some(&strip_tags(&t.content))),
                (None, TextFormat::ProseMirrorJson) => push(Some(&prosemirror_text(&t.content))),
            },
            Block::Image(b) => {
                push(b.caption.as_deref());
                push(b.alt_text.as_deref());
            }
            Block::Video(b) => push(b.caption.as_deref()),
            Block::Audio(b) => push(b.transcript.as_deref()),
            Block::File(b) => push(Some(&b.file_name)),
            Block::LinkPreview(b) => {
                push(b.title.as_deref());
                push(b.description.as_deref());
            }
            Block::Location(b) => {
                push(b.name.as_deref());
                push(b.address.as_deref());
            }
            Block::Contact(b) => push(Some(&b.display_name)),
            Block::Choice(b) => push(Some(&b.prompt)),
            Block::Card(c) => {
                push(c.title.as_deref());
                push(c.subtitle.as_deref());
            }
            Block::Carousel(c) => {
                for card in &c.cards {
                    push(card.0.title.as_deref());
                    push(card.0.subtitle.as_deref());
                }
            }
            Block::Embed(_) | Block::Divider | Block::Custom(_) => {}
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("\n")) }
}

/// A short preview of a message for notifications and chat lists: its plain text, or the kind of
/// its first block when it has none, cut to `max_chars`.
pub fn preview_of(message: &Message, max_chars: usize) -> String {
    let text = match &message.plain_text {
        Some(t) => t.split_whitespace().collect::<Vec<_>>().join(" "),
        None => match message.blocks.first() {
            Some(b) => format!("[{}]", b.type_name()),
            None => String::new(),
        },
    };
    if text.chars().count() <= max_chars {
        text
    } else {
        let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The blocks the media listing shows: uploaded image/video/audio/file blocks are attachments;
/// those pointing at an outside `url`, and link previews, are links.
pub fn media_of(blocks: &[Block]) -> Vec<(u32, MediaKind)> {
    let source_kind = |s: &MediaReference| {
        if s.storage_key.is_some() { MediaKind::Attachment } else { MediaKind::Link }
    };
    blocks
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let kind = match b {
                Block::Image(b) => source_kind(&b.source),
                Block::Video(b) => source_kind(&b.source),
                Block::Audio(b) => source_kind(&b.source),
                Block::File(b) => source_kind(&b.source),
                Block::LinkPreview(_) => MediaKind::Link,
                _ => return None,
            };
            Some((i as u32, kind))
        })
        .collect()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn prosemirror_text(json: &str) -> String {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(serde_json::Value::String(t)) = o.get("text") {
                    out.push(t.clone());
                }
                if let Some(c) = o.get("content") {
                    walk(c, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
        walk(&v, &mut out);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blocks(v: serde_json::Value) -> Vec<Block> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn lists_every_failure_with_its_field() {
        let limits = Limits { max_text_chars: 5, ..Limits::default() };
        let b = blocks(json!([
            {"$type": "text", "format": "Plain", "content": "too long here"},
            {"$type": "image", "source": {}},
            {"$type": "location", "latitude": 91.0, "longitude": 0.0}
        ]));
        let mut check = Check::new();
        check.blocks("blocks", &b, &limits);
        let err = check.finish().unwrap_err();
        let codes: Vec<_> = err.errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["blocks[0].content", "blocks[1].source", "blocks[2].latitude"]);
    }

    #[test]
    fn block_count_is_limited_both_ways() {
        let limits = Limits { max_blocks_per_message: 2, ..Limits::default() };
        let mut check = Check::new();
        check.blocks("blocks", &[], &limits);
        assert!(!check.is_ok());
        let three = vec![Block::Divider, Block::Divider, Block::Divider];
        let mut check = Check::new();
        check.blocks("blocks", &three, &limits);
        assert!(!check.is_ok());
    }

    #[test]
    fn plain_text_reads_every_format() {
        let b = blocks(json!([
            {"$type": "text", "format": "Html", "content": "<p>Hello <b>world</b></p>"},
            {"$type": "text", "format": "ProseMirrorJson",
             "content": "{\"type\":\"doc\",\"content\":[{\"type\":\"text\",\"text\":\"pm text\"}]}"},
            {"$type": "image", "source": {"storageKey": "a"}, "caption": "a cat"},
            {"$type": "divider"}
        ]));
        assert_eq!(plain_text_of(&b).unwrap(), "Hello world\npm text\na cat");
        assert_eq!(plain_text_of(&[Block::Divider]), None);
    }

    #[test]
    fn media_are_attachments_or_links() {
        let b = blocks(json!([
            {"$type": "text", "format": "Plain", "content": "x"},
            {"$type": "image", "source": {"storageKey": "k"}},
            {"$type": "file", "source": {"url": "https://x/y.pdf"}, "fileName": "y.pdf"},
            {"$type": "linkPreview", "url": "https://x"}
        ]));
        assert_eq!(media_of(&b), [(1, MediaKind::Attachment), (2, MediaKind::Link), (3, MediaKind::Link)]);
    }
}
