//! `POST /api/firmware/import`: Cisco's zip or tar (or one image) as the
//! request body, kept in a temporary folder of the state folder while it
//! comes, then imported by the code of `phoneprov firmware import`
//! (docs/firmware.md): checked whole first, then renamed into the firmware
//! folder, or nothing is written.

use std::path::Path;

use axum::body::Body;
use axum::extract::Query;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use phoneprov_cisco::firmware::import::{self, ImportError, Imported, Outcome, Progress};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::api::ApiError;
use super::State;

/// The largest upload taken. Cisco's 7940/7960 packages are under 10 MiB.
pub const MAX_UPLOAD: u64 = 128 << 20;

#[derive(Deserialize)]
pub(super) struct Upload {
    /// The file's name on the uploader's machine: it names the source in
    /// what the answer says, and a loose image keeps it in the folder.
    name: String,
    /// Replace files in the folder whose content differs, as `--force`.
    #[serde(default)]
    force: bool,
}

/// One file of the upload and what became of it.
#[derive(Serialize)]
struct FileRow {
    name: String,
    size: u64,
    /// added, replaced, unchanged or skipped.
    outcome: &'static str,
    /// The outcome as `phoneprov firmware import` says it.
    said: String,
}

impl From<Imported> for FileRow {
    fn from(file: Imported) -> FileRow {
        FileRow {
            outcome: match file.outcome {
                Outcome::Added => "added",
                Outcome::Replaced => "replaced",
                Outcome::Unchanged => "unchanged",
                Outcome::Skipped(_) => "skipped",
            },
            said: file.outcome.to_string(),
            name: file.name,
            size: file.size,
        }
    }
}

/// The browser draws the progress of the upload; the import itself takes
/// a moment.
struct Unwatched;

impl Progress for Unwatched {
    fn start(&mut self, _source: &Path, _len: u64) {}
    fn advance(&mut self, _done: u64) {}
}

pub(super) async fn firmware(
    state: State,
    Query(upload): Query<Upload>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = upload.name;
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            error: format!("{name:?} is not a file name"),
            fix: "send the file's own name as ?name=, e.g. ?name=cmterm-7940-7960-sccp.8-1-2.zip"
                .into(),
        });
    }
    let claimed = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if claimed.is_some_and(|len| len > MAX_UPLOAD) {
        return Err(too_large(&name));
    }
    let folder = tempfile::Builder::new()
        .prefix(".phoneprov-upload-")
        .tempdir_in(&state.app.state_dir)
        .map_err(|e| unwritable(&state.app.state_dir, &e))?;
    let kept = folder.path().join(&name);
    receive(body, &kept, &name).await?;
    let dir = state.app.firmware_dir.clone();
    let imported = tokio::task::spawn_blocking(move || {
        let result = import::import_as(&dir, &kept, &name, upload.force, &mut Unwatched);
        drop(folder);
        result
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: format!("the import stopped: {e}"),
        fix: "see phoneprov serve's output".into(),
    })?
    .map_err(refused)?;
    let files: Vec<FileRow> = imported.into_iter().map(FileRow::from).collect();
    Ok(Json(serde_json::json!({ "files": files })))
}

/// Writes the body to `path` as it comes, up to [`MAX_UPLOAD`].
async fn receive(body: Body, path: &Path, name: &str) -> Result<(), ApiError> {
    let dir = path.parent().unwrap_or(path);
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| unwritable(dir, &e))?;
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError {
            status: StatusCode::BAD_REQUEST,
            error: format!("{name} did not arrive whole: {e}"),
            fix: "upload it again".into(),
        })?;
        received += chunk.len() as u64;
        if received > MAX_UPLOAD {
            return Err(too_large(name));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| unwritable(dir, &e))?;
    }
    file.flush().await.map_err(|e| unwritable(dir, &e))
}

fn too_large(name: &str) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: format!(
            "{name} is over the {} MiB an upload may be",
            MAX_UPLOAD >> 20
        ),
        fix: "Cisco's 7940/7960 packages are under 10 MiB: check the file, or import it on the server with `phoneprov firmware import FILE`".into(),
    }
}

fn unwritable(dir: &Path, error: &std::io::Error) -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: format!("the upload cannot be kept in {}: {error}", dir.display()),
        fix: "make the state folder writable by the user phoneprov runs as, with room for the file"
            .into(),
    }
}

/// The import's refusal: what was wrong with the file (422), a file in the
/// way (409), or the folder (500).
fn refused(error: ImportError) -> ApiError {
    let (status, fix) = match &error {
        ImportError::Invalid { .. }
        | ImportError::Refused { .. }
        | ImportError::NoImages { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, error.fix().to_string())
        }
        ImportError::WouldOverwrite { .. } => (
            StatusCode::CONFLICT,
            "if this package is the right one, upload it again with force=true \
             (on the firmware page: \"Replace files that differ\")"
                .to_string(),
        ),
        ImportError::Read { .. } | ImportError::Write { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, error.fix().to_string())
        }
    };
    ApiError {
        status,
        error: error.to_string(),
        fix,
    }
}
