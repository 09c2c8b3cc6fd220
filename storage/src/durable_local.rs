//! The local directory store, with writes on disk when they return.
//!
//! `object_store`'s `LocalFileSystem` writes an object to a temporary file and renames it
//! into place, but never calls fsync: after a power loss (not a process crash, whose writes
//! the kernel still holds) a block that was complete could be missing or empty. The
//! store truncates its write-ahead log once a head's block is written, so such a loss would
//! lose acknowledged profiles. [`DurableLocal`] writes each object to a staging file, syncs
//! it, renames it into place (or links it, for a create-only put) and then syncs each
//! directory from the object's up to the store's root (a directory's fsync makes its new
//! entries durable; unchanged ones return at once), before the write returns: a `meta.json`
//! that is visible after a power loss is also complete. Deletes sync the directories they
//! changed. Reads and listings go straight to `LocalFileSystem` (whose listings skip the
//! staging files, named `NAME#DIGITS` as its own).

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};
use object_store::{PutMode, RenameOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A [`LocalFileSystem`] rooted at a directory whose writes are synced to disk.
#[derive(Debug)]
pub struct DurableLocal {
    inner: Arc<LocalFileSystem>,
    root: PathBuf,
    /// fsync calls made, files and directories.
    syncs: Arc<AtomicU64>,
}

impl DurableLocal {
    /// The store of directory `root` (which must exist); empty directories left by deletes
    /// are removed, as on object stores a listing of a deleted prefix is empty.
    pub fn new(root: &std::path::Path) -> Result<Self> {
        let inner = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        let root =
            std::fs::canonicalize(root).map_err(|e| generic(format!("{}: {e}", root.display())))?;
        let syncs = Arc::new(AtomicU64::new(0));
        // The root may have just been created: its entry in its parent, too.
        if let Some(parent) = root.parent() {
            sync_dir(parent, &syncs)
                .map_err(|e| generic(format!("fsync of {}: {e}", parent.display())))?;
        }
        Ok(DurableLocal {
            inner: Arc::new(inner),
            root,
            syncs,
        })
    }

    /// fsync calls made so far (files and directories).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Syncs the file of `location` and its directories up to the root.
    async fn sync(&self, location: &Path) -> Result<()> {
        let file = self.inner.path_to_filesystem(location)?;
        let (root, syncs) = (self.root.clone(), self.syncs.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&file)?.sync_all()?;
            syncs.fetch_add(1, Ordering::Relaxed);
            sync_dirs_up(file.parent(), &root, &syncs)
        })
        .await
        .map_err(|e| generic(e.to_string()))?
        .map_err(|e| generic(format!("fsync of {location}: {e}")))
    }
}

fn sync_dir(dir: &std::path::Path, syncs: &AtomicU64) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()?;
    syncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Syncs `dir` and each directory above it up to `root` that still exists (a delete's
/// cleanup may have removed the lower ones: their parents then hold the change).
fn sync_dirs_up(
    dir: Option<&std::path::Path>,
    root: &std::path::Path,
    syncs: &AtomicU64,
) -> std::io::Result<()> {
    let mut dir = dir;
    while let Some(d) = dir {
        if !d.starts_with(root) {
            break;
        }
        match sync_dir(d, syncs) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if d == root {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// A staging file name beside `path` that LocalFileSystem's listings skip (`#` digits).
fn staging_path(path: &std::path::Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut s = path.as_os_str().to_owned();
    s.push(format!(
        "#{}{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(s)
}

/// Writes `payload` to `path` durably: staging file, fsync, rename (or hard link when
/// `create`, failing if `path` exists), fsync of the directories up to `root`.
fn put_synced(
    path: &std::path::Path,
    root: &std::path::Path,
    payload: &PutPayload,
    create: bool,
    syncs: &AtomicU64,
) -> Result<()> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| generic(format!("{shown}: {e}"));
    let dir = path
        .parent()
        .ok_or_else(|| generic(format!("{shown}: no directory")))?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let staging = staging_path(path);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)?;
        for chunk in payload.iter() {
            f.write_all(chunk)?;
        }
        f.sync_all()?;
        syncs.fetch_add(1, Ordering::Relaxed);
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&staging);
        return Err(io(e));
    }
    let placed = if create {
        let r = std::fs::hard_link(&staging, path);
        let _ = std::fs::remove_file(&staging);
        r
    } else {
        std::fs::rename(&staging, path)
    };
    match placed {
        Ok(()) => sync_dirs_up(Some(dir), root, syncs).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(object_store::Error::AlreadyExists {
                path: shown,
                source: Box::new(e),
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            Err(io(e))
        }
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "DurableLocal",
        source: message.into(),
    }
}

impl std::fmt::Display for DurableLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As LocalFileSystem shows itself, so logs and tests read the same.
        write!(f, "{} (synced writes)", self.inner)
    }
}

#[async_trait]
impl ObjectStore for DurableLocal {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if matches!(opts.mode, PutMode::Update(_)) || !opts.attributes.is_empty() {
            // Not supported by LocalFileSystem either: its error.
            return self.inner.put_opts(location, payload, opts).await;
        }
        let path = self.inner.path_to_filesystem(location)?;
        let create = matches!(opts.mode, PutMode::Create);
        let (root, syncs) = (self.root.clone(), self.syncs.clone());
        tokio::task::spawn_blocking(move || put_synced(&path, &root, &payload, create, &syncs))
            .await
            .map_err(|e| generic(e.to_string()))??;
        Ok(PutResult {
            e_tag: None,
            version: None,
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(SyncedUpload {
            upload,
            file: self.inner.path_to_filesystem(location)?,
            root: self.root.clone(),
            syncs: self.syncs.clone(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let (inner, root, syncs) = (self.inner.clone(), self.root.clone(), self.syncs.clone());
        self.inner
            .delete_stream(locations)
            .and_then(move |location| {
                let dir = inner
                    .path_to_filesystem(&location)
                    .map(|f| f.parent().map(std::path::Path::to_path_buf));
                let (root, syncs) = (root.clone(), syncs.clone());
                async move {
                    let dir = dir?;
                    tokio::task::spawn_blocking(move || {
                        sync_dirs_up(dir.as_deref(), &root, &syncs)
                    })
                    .await
                    .map_err(|e| generic(e.to_string()))?
                    .map_err(|e| generic(format!("fsync after deleting {location}: {e}")))?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.sync(to).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.sync(to).await?;
        let dir = self
            .inner
            .path_to_filesystem(from)?
            .parent()
            .map(std::path::Path::to_path_buf);
        let (root, syncs) = (self.root.clone(), self.syncs.clone());
        tokio::task::spawn_blocking(move || sync_dirs_up(dir.as_deref(), &root, &syncs))
            .await
            .map_err(|e| generic(e.to_string()))?
            .map_err(|e| generic(format!("fsync after renaming {from}: {e}")))
    }
}

/// A multipart upload whose completion is synced like a put.
#[derive(Debug)]
struct SyncedUpload {
    upload: Box<dyn MultipartUpload>,
    file: PathBuf,
    root: PathBuf,
    syncs: Arc<AtomicU64>,
}

#[async_trait]
impl MultipartUpload for SyncedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let r = self.upload.complete().await?;
        let (file, root, syncs) = (self.file.clone(), self.root.clone(), self.syncs.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&file)?.sync_all()?;
            syncs.fetch_add(1, Ordering::Relaxed);
            sync_dirs_up(file.parent(), &root, &syncs)
        })
        .await
        .map_err(|e| generic(e.to_string()))?
        .map_err(|e| generic(format!("fsync after multipart upload: {e}")))?;
        Ok(r)
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStoreExt, PutMode};

    #[tokio::test]
    async fn writes_read_back_and_conditional_puts_still_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableLocal::new(dir.path()).unwrap();
        let p = Path::from("t/app=a/block/meta.json");
        let before = store.syncs();
        store.put(&p, PutPayload::from("one")).await.unwrap();
        // The file, then block, app=a, t and the root.
        assert_eq!(store.syncs() - before, 5);
        let got = store.get(&p).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"one");
        let again = store
            .put_opts(
                &p,
                PutPayload::from("two"),
                PutOptions {
                    mode: PutMode::Create,
                    ..PutOptions::default()
                },
            )
            .await;
        assert!(
            matches!(again, Err(object_store::Error::AlreadyExists { .. })),
            "{again:?}"
        );
        let mut up = store
            .put_multipart_opts(&Path::from("t/big"), PutMultipartOptions::default())
            .await
            .unwrap();
        up.put_part(PutPayload::from("ab")).await.unwrap();
        up.put_part(PutPayload::from("cd")).await.unwrap();
        up.complete().await.unwrap();
        let big = store
            .get(&Path::from("t/big"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&big[..], b"abcd");
        // Deleting the only object under a prefix leaves no directory behind; the
        // directories that changed (t, the root) are synced.
        let before = store.syncs();
        store.delete(&p).await.unwrap();
        assert!(!dir.path().join("t/app=a").exists());
        assert_eq!(store.syncs() - before, 2);
        // No staging file is left or listed.
        let listed: Vec<_> = store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed, vec!["t/big".to_string()]);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("t"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("big")]);
        assert!(store.to_string().starts_with("LocalFileSystem"));
    }
}
