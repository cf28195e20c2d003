//! Thumbnails for the images and videos that messages show, made in the background.
//!
//! One task listens to the core's events; each new or edited message whose image or video blocks
//! point at uploaded files without a thumbnail becomes a job. A few workers take the jobs: a file
//! that has a thumbnail already reuses it; otherwise the image is decoded (a video's frame is
//! grabbed with `ffmpeg` first) on the blocking pool, within size limits and with panics caught,
//! since decoders meet hostile input here, scaled down and stored as a JPEG. The core then
//! records the thumbnails on the message and announces them (`MessageThumbnailsReady`).

use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chatgate_core::Core;
use chatgate_core::event::{Event, EventKind};
use chatgate_core::model::{Block, Message, StoredFile};
use chatgate_core::service::MadeThumbnail;
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use futures_util::StreamExt;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageReader};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};

use super::Files;

/// The `[files.thumbnails]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThumbnailSettings {
    pub enabled: bool,
    /// The longest side of a thumbnail, in pixels.
    pub max_side_px: u32,
    /// Images with more pixels than this are not decoded.
    pub max_source_pixels: u64,
    /// Memory one decoder may allocate.
    pub max_decode_bytes: u64,
    /// Thumbnails made at once.
    pub workers: usize,
    /// Messages waiting for thumbnails; beyond it new ones get none (and a warning).
    pub queue: usize,
    /// The ffmpeg program for video frames; videos get no thumbnail if it cannot be run.
    pub ffmpeg: String,
    /// How long ffmpeg may take for one frame.
    pub video_timeout_ms: u64,
    pub jpeg_quality: u8,
}

impl Default for ThumbnailSettings {
    fn default() -> Self {
        ThumbnailSettings {
            enabled: true,
            max_side_px: 320,
            max_source_pixels: 50_000_000,
            max_decode_bytes: 512 * 1024 * 1024,
            workers: 2,
            queue: 1024,
            ffmpeg: "ffmpeg".to_owned(),
            video_timeout_ms: 30_000,
            jpeg_quality: 80,
        }
    }
}

/// Image types the built-in decoders read.
const DECODABLE: [&str; 5] = ["image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"];

/// One message whose blocks want thumbnails.
struct Job {
    tenant: String,
    message_id: String,
    /// `(block index, storage key)` of image and video blocks without a thumbnail.
    blocks: Vec<(u32, String)>,
}

/// Starts listening for messages and making their thumbnails (unless turned off).
pub fn start(core: Arc<Core>, files: Arc<Files>) {
    let settings = files.thumbnail_settings().clone();
    if !settings.enabled {
        tracing::info!("thumbnails: off");
        return;
    }
    let (jobs, queue) = mpsc::channel::<Job>(settings.queue.max(1));
    let mut events = core.subscribe();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let Some(job) = job_for(&event) else { continue };
            if jobs.try_send(job).is_err() {
                tracing::warn!(
                    event = event.kind.name(),
                    "thumbnail queue full: this message gets no thumbnails"
                );
            }
        }
    });
    tokio::spawn(async move {
        let ffmpeg = find_ffmpeg(&settings.ffmpeg).await;
        match &ffmpeg {
            Some(version) => tracing::info!("thumbnails: images, and videos with {version}"),
            None => tracing::info!(
                "thumbnails: images only; video thumbnails are off because `{}` could not be run \
                 (install ffmpeg or set [files.thumbnails] ffmpeg)",
                settings.ffmpeg
            ),
        }
        let maker = Arc::new(Maker { core, files, settings, videos: ffmpeg.is_some() });
        run_jobs(maker, queue).await;
    });
}

async fn run_jobs(maker: Arc<Maker>, mut queue: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(maker.settings.workers.max(1)));
    while let Some(job) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let maker = maker.clone();
        tokio::spawn(async move {
            maker.run(job).await;
            drop(slot);
        });
    }
}

/// The job an event makes, if it delivers a message with image or video blocks to thumbnail.
fn job_for(event: &Event) -> Option<Job> {
    // New messages (sent, or a completed bot stream) and edited ones, which may show new files.
    let message: &Message = match (&event.kind, event.kind.new_message()) {
        (_, Some(e)) | (EventKind::MessageUpdated(e), None) => &e.message,
        _ => return None,
    };
    if message.is_deleted() {
        return None;
    }
    let blocks: Vec<(u32, String)> = message
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(i, block)| {
            let (source, thumbnail) = match block {
                Block::Image(b) => (&b.source, &b.thumbnail),
                Block::Video(b) => (&b.source, &b.thumbnail),
                _ => return None,
            };
            match (&source.storage_key, thumbnail) {
                (Some(key), None) if !key.is_empty() => Some((i as u32, key.clone())),
                _ => None,
            }
        })
        .collect();
    (!blocks.is_empty()).then(|| Job { tenant: event.tenant.clone(), message_id: message.id.clone(), blocks })
}

struct Maker {
    core: Arc<Core>,
    files: Arc<Files>,
    settings: ThumbnailSettings,
    videos: bool,
}

impl Maker {
    async fn run(&self, job: Job) {
        let mut made = Vec::new();
        for (block_index, key) in &job.blocks {
            let source = match self.core.thumbnail_source(&job.tenant, key).await {
                Ok(Some(source)) => source,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, key, "thumbnail: cannot read the file's record");
                    continue;
                }
            };
            let thumbnail_key = match &source.thumbnail_key {
                Some(existing) => existing.clone(),
                None => match self.make(&source).await {
                    Ok(Some(key)) => key,
                    Ok(None) => continue,
                    Err(reason) => {
                        tracing::info!(key, reason, "thumbnail: none made");
                        continue;
                    }
                },
            };
            made.push(MadeThumbnail { block_index: *block_index, source_key: key.clone(), thumbnail_key });
        }
        if made.is_empty() {
            return;
        }
        match self.core.attach_thumbnails(&job.tenant, &job.message_id, &made).await {
            Ok(recorded) => {
                tracing::debug!(message = %job.message_id, thumbnails = recorded.len(), "thumbnails recorded")
            }
            Err(e) => tracing::warn!(error = %e, message = %job.message_id, "thumbnails not recorded"),
        }
    }

    /// Makes, stores and records a thumbnail of `source`; `None` for a type that gets none here.
    async fn make(&self, source: &StoredFile) -> Result<Option<String>, String> {
        let still = if source.content_type.starts_with("video/") {
            if !self.videos {
                tracing::debug!(key = %source.storage_key, "no video thumbnail: ffmpeg is not available");
                return Ok(None);
            }
            self.video_frame(source).await?
        } else if DECODABLE.contains(&source.content_type.as_str()) {
            self.files.storage.read_all(&source.storage_key, source.size).await.map_err(|e| e.to_string())?
        } else {
            return Ok(None);
        };
        let settings = self.settings.clone();
        let jpeg = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| render(&still, &settings)))
                .unwrap_or_else(|_| Err("the decoder gave up on this file (panicked)".to_owned()))
        })
        .await
        .map_err(|e| format!("thumbnail task failed: {e}"))??;
        let key = self.core.thumbnail_key(source);
        let size = jpeg.len() as u64;
        self.files.storage.put(&key, Bytes::from(jpeg)).await.map_err(|e| format!("storing it: {e}"))?;
        if let Err(e) = self.core.record_thumbnail(source, &key, size).await {
            let _ = self.files.storage.delete(&key).await;
            return Err(format!("recording it: {e}"));
        }
        Ok(Some(key))
    }

    /// One frame of the video, as PNG, from ffmpeg: a second in if the video is that long,
    /// else its first frame.
    async fn video_frame(&self, source: &StoredFile) -> Result<Bytes, String> {
        let scratch = Scratch::new()?;
        let input = scratch.0.join("video");
        let mut file = tokio::fs::File::create(&input).await.map_err(|e| format!("scratch file: {e}"))?;
        let mut stream =
            self.files.storage.read(&source.storage_key, None).await.map_err(|e| e.to_string())?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.map_err(|e| e.to_string())?)
                .await
                .map_err(|e| format!("scratch file: {e}"))?;
        }
        file.flush().await.map_err(|e| format!("scratch file: {e}"))?;
        drop(file);
        for seek in ["1", "0"] {
            let frame = self.ffmpeg_frame(&input, seek).await?;
            if !frame.is_empty() {
                return Ok(frame);
            }
        }
        Err("ffmpeg found no frame in the video".to_owned())
    }

    async fn ffmpeg_frame(&self, input: &std::path::Path, seek: &str) -> Result<Bytes, String> {
        let side = self.settings.max_side_px.saturating_mul(4).max(64);
        let scale = format!("scale=w={side}:h={side}:force_original_aspect_ratio=decrease");
        let mut command = tokio::process::Command::new(&self.settings.ffmpeg);
        command
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-ss", seek, "-i"])
            .arg(input)
            .args(["-frames:v", "1", "-vf", &scale, "-f", "image2pipe", "-c:v", "png", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let run = command.output();
        let output = tokio::time::timeout(Duration::from_millis(self.settings.video_timeout_ms), run)
            .await
            .map_err(|_| format!("ffmpeg took longer than {} ms", self.settings.video_timeout_ms))?
            .map_err(|e| format!("running ffmpeg: {e}"))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(format!("ffmpeg failed ({}): {}", output.status, said.trim()));
        }
        Ok(Bytes::from(output.stdout))
    }
}

/// `Some(first line of -version)` if ffmpeg runs.
async fn find_ffmpeg(program: &str) -> Option<String> {
    let output = tokio::process::Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(10), output).await.ok()?.ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or(program).split(" Copyright").next().unwrap_or(program).to_owned())
}

/// A scratch directory of its own, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("chatgate-thumbnail-{}", chatgate_core::ids::new_id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("scratch directory {}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Decodes an image (PNG, JPEG, GIF's first frame, WebP), turns it upright, fits it in
/// `max_side_px`, lays any transparency on white and encodes it as JPEG. Blocking.
pub fn render(encoded: &[u8], settings: &ThumbnailSettings) -> Result<Vec<u8>, String> {
    let mut reader = ImageReader::new(Cursor::new(encoded))
        .with_guessed_format()
        .map_err(|e| format!("reading it: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(settings.max_decode_bytes);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| format!("not a readable image: {e}"))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err("the image is empty".to_owned());
    }
    if u64::from(width) * u64::from(height) > settings.max_source_pixels {
        return Err(format!("{width}×{height} is more than {} pixels", settings.max_source_pixels));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(|e| format!("decoding it: {e}"))?;
    decoded.apply_orientation(orientation);
    let rgba = decoded.into_rgba8();
    let (width, height) = rgba.dimensions();
    let (to_width, to_height) = fit(width, height, settings.max_side_px.max(1));
    let source = Image::from_vec_u8(width, height, rgba.into_raw(), PixelType::U8x4)
        .map_err(|e| format!("resizing it: {e}"))?;
    let mut scaled = Image::new(to_width, to_height, PixelType::U8x4);
    Resizer::new()
        .resize(
            &source,
            &mut scaled,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|e| format!("resizing it: {e}"))?;
    let rgb = on_white(scaled.buffer());
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, settings.jpeg_quality.clamp(1, 100))
        .encode(&rgb, to_width, to_height, ExtendedColorType::Rgb8)
        .map_err(|e| format!("encoding it: {e}"))?;
    Ok(jpeg)
}

/// The size that fits `(width, height)` in a `max`×`max` square, keeping the aspect ratio and
/// never enlarging; at least one pixel each way.
fn fit(width: u32, height: u32, max: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max {
        return (width, height);
    }
    let scale =
        |side: u32| ((u64::from(side) * u64::from(max) + u64::from(longest) / 2) / u64::from(longest)).max(1);
    (scale(width) as u32, scale(height) as u32)
}

/// RGBA pixels composited over white, as RGB.
fn on_white(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let alpha = u16::from(px[3]);
        for &c in &px[..3] {
            rgb.push(((u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbaImage};

    fn png(width: u32, height: u32, pixel: [u8; 4]) -> Vec<u8> {
        let img = RgbaImage::from_pixel(width, height, image::Rgba(pixel));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), width, height, ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    fn dimensions(jpeg: &[u8]) -> (u32, u32) {
        ImageReader::new(Cursor::new(jpeg)).with_guessed_format().unwrap().into_dimensions().unwrap()
    }

    #[test]
    fn fits_the_longest_side_and_never_enlarges() {
        assert_eq!(fit(1000, 500, 320), (320, 160));
        assert_eq!(fit(500, 1000, 320), (160, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
        assert_eq!(fit(10_000, 1, 320), (320, 1));
    }

    #[test]
    fn renders_a_scaled_jpeg_with_transparency_on_white() {
        let settings = ThumbnailSettings::default();
        let jpeg = render(&png(800, 400, [0, 0, 0, 0]), &settings).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(dimensions(&jpeg), (320, 160));
        let decoded = image::load_from_memory(&jpeg).unwrap().into_rgb8();
        let centre = decoded.get_pixel(160, 80);
        assert!(centre.0.iter().all(|&c| c > 240), "{centre:?}");
    }

    #[test]
    fn refuses_garbage_and_oversized_images_without_panicking() {
        let settings = ThumbnailSettings { max_source_pixels: 100, ..ThumbnailSettings::default() };
        assert!(render(b"not an image at all", &settings).is_err());
        assert!(render(&png(20, 20, [1, 2, 3, 255]), &settings).unwrap_err().contains("pixels"));
        let mut truncated = png(64, 64, [9, 9, 9, 255]);
        truncated.truncate(truncated.len() / 2);
        assert!(render(&truncated, &ThumbnailSettings::default()).is_err());
    }
}
