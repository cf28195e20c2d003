use serde::{Deserialize, Serialize};

/// A pointer to media: an uploaded object (`storageKey`) or an outside address (`url`).
/// A sent reference is stored as given; the server may add a (signed) `url` when rendering.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl MediaReference {
    pub fn is_empty(&self) -> bool {
        self.storage_key.as_deref().is_none_or(str::is_empty) && self.url.as_deref().is_none_or(str::is_empty)
    }

    /// An outside link rather than an uploaded object.
    pub fn is_external(&self) -> bool {
        self.storage_key.is_none() && self.url.is_some()
    }
}
