//! The local directory store, with writes on disk when they return.
//!
//! `object_store`'s `LocalFileSystem` writes an object to a temporary file and renames it
//! into place, but never calls fsync: after a power loss (not a process crash, whose writes
//! the kernel still holds) a block that was complete could be missing or empty. The
//! store truncates its write-ahead log once a head's block is written, so such a loss would
//! lose acknowledged profiles. [`DurableLocal`] syncs every object it writes, then each
//! directory from the object's up to the store's root (a directory's fsync makes its new
//! entries durable; unchanged ones return at once), before the write returns. Reads,
//! listings and deletes go straight to `LocalFileSystem`.

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};
use std::path::PathBuf;
use std::sync::Arc;

/// A [`LocalFileSystem`] rooted at a directory whose writes are synced to disk.
#[derive(Debug)]
pub struct DurableLocal {
    inner: Arc<LocalFileSystem>,
    root: PathBuf,
}

impl DurableLocal {
    /// The store of directory `root` (which must exist); empty directories left by deletes
    /// are removed, as on object stores a listing of a deleted prefix is empty.
    pub fn new(root: &std::path::Path) -> Result<Self> {
        let inner = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(DurableLocal {
            inner: Arc::new(inner),
            root: std::fs::canonicalize(root).map_err(|e| object_store::Error::Generic {
                store: "DurableLocal",
                source: Box::new(e),
            })?,
        })
    }

    /// Syncs the file of `location` and its directories up to the root.
    async fn sync(&self, location: &Path) -> Result<()> {
        let file = self.inner.path_to_filesystem(location)?;
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sync_file_and_dirs(&file, &root))
            .await
            .map_err(|e| generic(e.to_string()))?
            .map_err(|e| generic(format!("fsync of {}: {e}", location_text(location))))
    }
}

fn location_text(location: &Path) -> String {
    location.to_string()
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "DurableLocal",
        source: message.into(),
    }
}

fn sync_file_and_dirs(file: &std::path::Path, root: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    let mut dir = file.parent();
    while let Some(d) = dir {
        std::fs::File::open(d)?.sync_all()?;
        if d == root || !d.starts_with(root) {
            break;
        }
        dir = d.parent();
    }
    Ok(())
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
        let r = self.inner.put_opts(location, payload, opts).await?;
        self.sync(location).await?;
        Ok(r)
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
        self.inner.delete_stream(locations)
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
}

/// A multipart upload whose completion is synced like a put.
#[derive(Debug)]
struct SyncedUpload {
    upload: Box<dyn MultipartUpload>,
    file: PathBuf,
    root: PathBuf,
}

#[async_trait]
impl MultipartUpload for SyncedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let r = self.upload.complete().await?;
        let (file, root) = (self.file.clone(), self.root.clone());
        tokio::task::spawn_blocking(move || sync_file_and_dirs(&file, &root))
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
        store.put(&p, PutPayload::from("one")).await.unwrap();
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
        // Deleting the only object under a prefix leaves no directory behind.
        store.delete(&p).await.unwrap();
        assert!(!dir.path().join("t/app=a").exists());
        assert!(store.to_string().starts_with("LocalFileSystem"));
    }
}
