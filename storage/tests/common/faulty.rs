//! An object store that fails a fraction of its calls, as a flaky S3-compatible service
//! does: a put fails before writing (a 503) or after writing (a timeout whose request did
//! land), a get, head, list, delete or copy fails with a 503. Deterministic per seed;
//! faults can be turned off to read what is really stored.

use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The wrapper.
#[derive(Debug)]
pub struct Faulty {
    inner: Arc<dyn ObjectStore>,
    /// Faults per 1000 calls.
    per_mille: u64,
    state: AtomicU64,
    on: AtomicBool,
    /// Faults injected so far.
    pub injected: AtomicU64,
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

impl Faulty {
    /// Fails `per_mille` of 1000 calls of `inner`, drawn from `seed`.
    pub fn new(inner: Arc<dyn ObjectStore>, per_mille: u64, seed: u64) -> Faulty {
        Faulty {
            inner,
            per_mille,
            state: AtomicU64::new(seed | 1),
            on: AtomicBool::new(true),
            injected: AtomicU64::new(0),
        }
    }

    /// Turns faults on or off.
    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    /// Whether this call fails (xorshift64, shared by all calls).
    fn fault(&self) -> bool {
        if !self.on.load(Ordering::SeqCst) {
            return false;
        }
        let mut x = self.state.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::SeqCst);
        let hit = x % 1000 < self.per_mille;
        if hit {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }

    fn error(what: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "faulty",
            source: format!("injected fault: {what}: 503 Slow Down").into(),
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if self.fault() {
            return Err(Self::error("put before writing"));
        }
        let r = self.inner.put_opts(location, payload, opts).await?;
        if self.fault() {
            return Err(Self::error("put timed out after writing"));
        }
        Ok(r)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        if self.fault() {
            return Err(Self::error("multipart put"));
        }
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if self.fault() {
            return Err(Self::error("get"));
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if self.fault() {
            return futures::stream::once(async { Err(Self::error("delete")) }).boxed();
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.fault() {
            return futures::stream::once(async { Err(Self::error("list")) }).boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        if self.fault() {
            return Err(Self::error("list with delimiter"));
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        if self.fault() {
            return Err(Self::error("copy"));
        }
        self.inner.copy_opts(from, to, options).await
    }
}
