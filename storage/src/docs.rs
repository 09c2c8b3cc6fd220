//! Small JSON documents kept per tenant beside the profiles: change events, regression
//! findings. One object per document, `{root}/{tenant}/{dir}/{id}.json` ([`DocPath`], the
//! id escaped like a partition value), holding `{"format_version": N, "<field>": {...}}`.
//!
//! - Writing an id again replaces the document: one `put`, atomic on every object store,
//!   no read-modify-write and no coordination between servers sharing a bucket (the
//!   listing is the truth; concurrent writers of one id: the last put wins).
//! - A `put` returns once the store acknowledged it: on the local store after the file
//!   and its directory were synced ([`crate::durable_local`]).
//! - Reading lists the tenant's `{dir}/` prefix and fetches only objects not already
//!   cached with the same size and modification time: thousands of documents cost one
//!   listing per read once warm. The block catalog skips these paths (not partitions).

use crate::path::escape;
use crate::{Error, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Objects written or read at once.
const CONCURRENT_REQUESTS: usize = 16;

/// A kind of document.
pub trait Document: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The directory below the tenant (`events`).
    const DIR: &'static str;
    /// The key holding the document in its object (`event`).
    const FIELD: &'static str;
    /// The newest format this build writes and reads.
    const FORMAT_VERSION: u32;
    /// Its id, unique per tenant.
    fn id(&self) -> &str;
}

/// Where documents live: the only code that knows the layout below `{tenant}/{dir}/`.
#[derive(Debug, Clone, Copy)]
pub struct DocPath;

impl DocPath {
    /// `{root}/{tenant}/{dir}`.
    pub fn prefix(root: &Path, tenant: &str, dir: &str) -> Path {
        root.clone().join(escape(tenant)).join(dir)
    }

    /// `{root}/{tenant}/{dir}/{id}.json`.
    pub fn file(root: &Path, tenant: &str, dir: &str, id: &str) -> Path {
        DocPath::prefix(root, tenant, dir).join(format!("{}.json", escape(id)))
    }
}

/// A cached document and what identified its object when it was read.
struct Cached<T> {
    size: u64,
    modified: i64,
    doc: Arc<T>,
}

/// Reads and writes the documents of kind `T` of a store.
pub struct Documents<T: Document> {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    cache: Mutex<HashMap<Path, Cached<T>>>,
    kind: PhantomData<T>,
}

impl<T: Document> std::fmt::Debug for Documents<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("dir", &T::DIR)
            .field("root", &self.root)
            .finish()
    }
}

/// `doc` in its stored form.
fn encode<T: Document>(doc: &T) -> Result<Vec<u8>> {
    let mut m = serde_json::Map::new();
    m.insert("format_version".into(), T::FORMAT_VERSION.into());
    m.insert(
        T::FIELD.into(),
        serde_json::to_value(doc).map_err(|e| Error::Invalid(format!("{}: {e}", doc.id())))?,
    );
    serde_json::to_vec(&m).map_err(|e| Error::Invalid(format!("{}: {e}", doc.id())))
}

/// A stored document read back; a newer format is [`Error::UnsupportedVersion`].
pub fn decode<T: Document>(path: &Path, bytes: &[u8]) -> Result<T> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_string(),
        message,
    };
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let version = v
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt("no format_version".into()))?;
    if version > u64::from(T::FORMAT_VERSION) {
        return Err(Error::UnsupportedVersion {
            path: path.to_string(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: T::FORMAT_VERSION,
        });
    }
    let doc = v
        .remove(T::FIELD)
        .ok_or_else(|| corrupt(format!("no {:?}", T::FIELD)))?;
    serde_json::from_value(doc).map_err(|e| corrupt(e.to_string()))
}

impl<T: Document> Documents<T> {
    /// The documents of the store at `root` of `objects`.
    pub fn new(objects: Arc<dyn ObjectStore>, root: Path) -> Self {
        Documents {
            objects,
            root,
            cache: Mutex::new(HashMap::new()),
            kind: PhantomData,
        }
    }

    /// Stores `docs` for `tenant`, each replacing the document of its id; returns once
    /// every one is durable. They are stored one by one: on an error, some may be stored
    /// (writing them again is harmless).
    pub async fn put(&self, tenant: &str, docs: &[T]) -> Result<()> {
        let mut writes = Vec::with_capacity(docs.len());
        for d in docs {
            writes.push((
                DocPath::file(&self.root, tenant, T::DIR, d.id()),
                encode(d)?,
            ));
        }
        futures::stream::iter(writes)
            .map(|(path, body)| {
                let objects = self.objects.clone();
                async move {
                    objects
                        .put(&path, PutPayload::from(Bytes::from(body)))
                        .await
                        .map(|_| ())
                        .map_err(Error::from)
                }
            })
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// The document `id` of `tenant`, read from the store (not the cache).
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<T>> {
        let path = DocPath::file(&self.root, tenant, T::DIR, id);
        match self.objects.get(&path).await {
            Ok(r) => Ok(Some(decode(&path, &r.bytes().await?)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every document of `tenant`, by id.
    pub async fn list(&self, tenant: &str) -> Result<Vec<Arc<T>>> {
        let prefix = DocPath::prefix(&self.root, tenant, T::DIR);
        let listed: Vec<_> = self.objects.list(Some(&prefix)).try_collect().await?;
        let mut out = Vec::with_capacity(listed.len());
        let mut fetch = vec![];
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for o in listed {
                if !o.location.as_ref().ends_with(".json") {
                    continue;
                }
                let modified = o.last_modified.timestamp_nanos_opt().unwrap_or(0);
                match cache.get(&o.location) {
                    Some(c) if c.size == o.size && c.modified == modified => {
                        out.push(c.doc.clone())
                    }
                    _ => fetch.push((o.location, o.size, modified)),
                }
            }
        }
        let fetched: Vec<(Path, Cached<T>)> = futures::stream::iter(fetch)
            .map(|(path, size, modified)| {
                let objects = self.objects.clone();
                async move {
                    let bytes = objects.get(&path).await?.bytes().await?;
                    let doc = Arc::new(decode::<T>(&path, &bytes)?);
                    Ok::<_, Error>((
                        path,
                        Cached {
                            size,
                            modified,
                            doc,
                        },
                    ))
                }
            })
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect()
            .await?;
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (path, c) in fetched {
                out.push(c.doc.clone());
                cache.insert(path, c);
            }
        }
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }
}
