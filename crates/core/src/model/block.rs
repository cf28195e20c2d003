//! Message content: the fourteen block types of seed 002 section 15, discriminated by `$type`.
//!
//! Fields typed `T | null` in the seed are `Option<T>` here: they may be omitted on input and are
//! always written (as `null` when empty) on output. An unknown `$type` fails to deserialize,
//! which every door reports as a validation error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::media::MediaReference;
use crate::decode::nested;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "$type", rename_all = "camelCase")]
pub enum Block {
    Text(TextBlock),
    Image(ImageBlock),
    Video(VideoBlock),
    Audio(AudioBlock),
    File(FileBlock),
    LinkPreview(LinkPreviewBlock),
    Embed(EmbedBlock),
    Location(LocationBlock),
    Contact(ContactBlock),
    Choice(ChoiceBlock),
    Card(CardBlock),
    Carousel(CarouselBlock),
    Divider,
    Custom(CustomBlock),
}

impl Block {
    /// The `$type` discriminator.
    pub fn type_name(&self) -> &'static str {
        match self {
            Block::Text(_) => "text",
            Block::Image(_) => "image",
            Block::Video(_) => "video",
            Block::Audio(_) => "audio",
            Block::File(_) => "file",
            Block::LinkPreview(_) => "linkPreview",
            Block::Embed(_) => "embed",
            Block::Location(_) => "location",
            Block::Contact(_) => "contact",
            Block::Choice(_) => "choice",
            Block::Card(_) => "card",
            Block::Carousel(_) => "carousel",
            Block::Divider => "divider",
            Block::Custom(_) => "custom",
        }
    }

    /// A plain-text block, the shape most doors send (customers, support desk, connectors).
    pub fn plain_text(content: impl Into<String>) -> Block {
        let content = content.into();
        Block::Text(TextBlock { format: TextFormat::Plain, plain_text: Some(content.clone()), content })
    }
}

const BLOCK_TYPES: &str = "text, image, video, audio, file, linkPreview, embed, location, contact, \
     choice, card, carousel, divider, custom";

/// Read whole, then decoded by `$type`; a failure names the field inside the block (see
/// [`crate::decode`]), which serde's internally tagged enums cannot do.
impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        let kind = match object.remove("$type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(D::Error::custom(nested("$type", "must be a string"))),
            None => {
                return Err(D::Error::custom(nested("$type", format!("is required (one of {BLOCK_TYPES})"))));
            }
        };
        let value = Value::Object(object);
        fn variant<T: serde::de::DeserializeOwned, E: serde::de::Error>(value: Value) -> Result<T, E> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                E::custom(nested(&path, e.into_inner()))
            })
        }
        match kind.as_str() {
            "text" => variant(value).map(Block::Text),
            "image" => variant(value).map(Block::Image),
            "video" => variant(value).map(Block::Video),
            "audio" => variant(value).map(Block::Audio),
            "file" => variant(value).map(Block::File),
            "linkPreview" => variant(value).map(Block::LinkPreview),
            "embed" => variant(value).map(Block::Embed),
            "location" => variant(value).map(Block::Location),
            "contact" => variant(value).map(Block::Contact),
            "choice" => variant(value).map(Block::Choice),
            "card" => variant(value).map(Block::Card),
            "carousel" => variant(value).map(Block::Carousel),
            "divider" => Ok(Block::Divider),
            "custom" => variant(value).map(Block::Custom),
            other => Err(D::Error::custom(nested(
                "$type",
                format!("unknown block type `{other}` (expected one of {BLOCK_TYPES})"),
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextFormat {
    Plain,
    Markdown,
    Html,
    ProseMirrorJson,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextBlock {
    pub format: TextFormat,
    pub content: String,
    #[serde(default)]
    pub plain_text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageBlock {
    pub source: MediaReference,
    #[serde(default)]
    pub thumbnail: Option<MediaReference>,
    #[serde(default)]
    pub alt_text: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoBlock {
    pub source: MediaReference,
    #[serde(default)]
    pub thumbnail: Option<MediaReference>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioBlock {
    pub source: MediaReference,
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub transcript: Option<String>,
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileBlock {
    pub source: MediaReference,
    pub file_name: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkPreviewBlock {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub image: Option<MediaReference>,
    #[serde(default)]
    pub site_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedBlock {
    pub url: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationBlock {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactBlock {
    pub display_name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChoiceMode {
    Single,
    Multiple,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceOption {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub selected: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceBlock {
    pub prompt: String,
    pub options: Vec<ChoiceOption>,
    pub mode: ChoiceMode,
    #[serde(default)]
    pub submitted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ButtonAction {
    Postback,
    Url,
    Call,
    Copy,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ButtonStyle {
    #[default]
    Default,
    Primary,
    Danger,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionButton {
    pub label: String,
    pub action: ButtonAction,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub style: ButtonStyle,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardField {
    pub label: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardBlock {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub subtitle: Option<String>,
    #[serde(default)]
    pub image: Option<MediaReference>,
    #[serde(default)]
    pub fields: Option<Vec<CardField>>,
    #[serde(default)]
    pub buttons: Option<Vec<ActionButton>>,
}

/// The cards of a carousel are `CardBlock`s, written with their `$type: "card"` as seed 002 types
/// them; on input the tag may be omitted, but any other `$type` is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct CarouselCard(pub CardBlock);

impl Serialize for CarouselCard {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            #[serde(rename = "$type")]
            kind: &'static str,
            #[serde(flatten)]
            card: &'a CardBlock,
        }
        Tagged { kind: "card", card: &self.0 }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CarouselCard {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        match object.remove("$type") {
            None => {}
            Some(Value::String(tag)) if tag == "card" => {}
            Some(other) => {
                return Err(serde::de::Error::custom(nested(
                    "$type",
                    format!("a carousel holds cards only, found {other}"),
                )));
            }
        }
        serde_path_to_error::deserialize(Value::Object(object)).map(CarouselCard).map_err(|e| {
            let path = e.path().to_string();
            serde::de::Error::custom(nested(&path, e.into_inner()))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarouselBlock {
    pub cards: Vec<CarouselCard>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomBlock {
    #[serde(rename = "type")]
    pub custom_type: String,
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_seed_type_round_trips_with_nulls_written() {
        let blocks = json!([
            {"$type": "text", "format": "Markdown", "content": "**hi**", "plainText": "hi"},
            {"$type": "image", "source": {"storageKey": "k/a.jpg"}},
            {"$type": "video", "source": {"url": "https://cdn.example/v.mp4"}, "durationSeconds": 3.5},
            {"$type": "audio", "source": {"storageKey": "k/a.ogg"}, "transcript": "hello"},
            {"$type": "file", "source": {"storageKey": "k/r.pdf"}, "fileName": "r.pdf"},
            {"$type": "linkPreview", "url": "https://example.com"},
            {"$type": "embed", "url": "https://example.com/e"},
            {"$type": "location", "latitude": 10.5, "longitude": 106.7},
            {"$type": "contact", "displayName": "An"},
            {"$type": "choice", "prompt": "?", "options": [{"label": "A", "value": "a"}], "mode": "Single"},
            {"$type": "card", "title": "T", "buttons": [{"label": "Go", "action": "Url", "value": "https://x"}]},
            {"$type": "carousel", "cards": [{"$type": "card", "title": "1"}, {"title": "2"}]},
            {"$type": "divider"},
            {"$type": "custom", "type": "order", "data": {"id": 7}}
        ]);
        let parsed: Vec<Block> = serde_json::from_value(blocks).unwrap();
        assert_eq!(parsed.len(), 14);
        let written = serde_json::to_value(&parsed).unwrap();
        assert_eq!(written[0]["plainText"], "hi");
        assert!(written[1]["thumbnail"].is_null() && written[1].get("caption").is_some());
        assert_eq!(written[1]["source"], json!({"storageKey": "k/a.jpg"}));
        assert_eq!(written[10]["buttons"][0]["style"], "Default");
        assert_eq!(written[11]["cards"][1]["$type"], "card");
        assert_eq!(written[12], json!({"$type": "divider"}));
        assert_eq!(written[13]["type"], "order");
        let again: Vec<Block> = serde_json::from_value(written).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn errors_name_the_field_inside_the_block() {
        let locate = |v: serde_json::Value| {
            let e = serde_json::from_value::<Block>(v).unwrap_err().to_string();
            crate::decode::locate("blocks[0]", &e).0
        };
        assert_eq!(locate(json!({"$type": "text", "format": "Rich", "content": "x"})), "blocks[0].format");
        assert_eq!(locate(json!({"$type": "text", "format": "Plain", "content": 5})), "blocks[0].content");
        assert_eq!(locate(json!({"$type": "text", "format": "Plain"})), "blocks[0].content");
        assert_eq!(locate(json!({"$type": "sticker"})), "blocks[0].$type");
        assert_eq!(locate(json!({"$type": "carousel", "cards": [{"title": 1}]})), "blocks[0].cards[0].title");
    }

    #[test]
    fn unknown_types_and_missing_fields_are_refused() {
        assert!(serde_json::from_value::<Block>(json!({"$type": "sticker"})).is_err());
        assert!(serde_json::from_value::<Block>(json!({"content": "no type"})).is_err());
        assert!(serde_json::from_value::<Block>(json!({"$type": "text", "content": "x"})).is_err());
        assert!(
            serde_json::from_value::<Block>(json!({"$type": "text", "format": "Rich", "content": "x"}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<Block>(json!({"$type": "carousel", "cards": [{"$type": "image"}]}))
                .is_err()
        );
    }
}
