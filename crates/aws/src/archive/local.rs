//! A local directory as an object store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ObjectStore, StoreError};

/// Objects as files below a directory (see the module docs of [`super`]).
#[derive(Clone, Debug)]
pub struct LocalDir {
    root: PathBuf,
}

/// Makes temporary names unique within the process.
static TMP: AtomicU64 = AtomicU64::new(0);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io { path: path.display().to_string(), error }
}

impl LocalDir {
    /// The directory `root`, created when missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalDir, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let root = root.canonicalize().map_err(io(&root))?;
        Ok(LocalDir { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a key; keys with `..`, empty or absolute segments are refused.
    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if key.is_empty() || key.split('/').any(|s| s.is_empty() || s == "." || s == "..") || key.contains('\\') {
            return Err(StoreError::Io {
                path: key.to_string(),
                error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an object key"),
            });
        }
        Ok(self.root.join(key))
    }

    fn put_sync(&self, key: &str, body: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), TMP.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(body)?;
            // Durable before it is in place: a crash leaves the old object or the new one, whole.
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        Ok(())
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Walk from the deepest directory the prefix names whole.
        let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.path(dir_part)? };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".tmp-") {
                    continue;
                }
                let path = entry.path();
                let ty = entry.file_type().map_err(io(&path))?;
                if ty.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if key.starts_with(prefix) {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl ObjectStore for LocalDir {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_sync(key, &body)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound(path.display().to_string())),
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_sync(prefix)
    }

    fn url(&self) -> String {
        format!("file://{}", self.root.display())
    }
}
