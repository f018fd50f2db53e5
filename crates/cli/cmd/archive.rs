//! `logtrim run --archive`: the records that are not sent, archived as the forwarder and the Lambda
//! archive them (`logtrim_core::archive`), to a directory or S3.

use anyhow::Context;
use logtrim_aws::archive::{ObjectStore, Store, StoreOptions};
use logtrim_core::RuleSet;
use logtrim_core::archive::{Archive, ArchiveCounters, ArchiveOptions};

/// The archive of a run and the store its objects go to.
pub struct ArchiveOut {
    pub archive: Archive,
    store: Store,
    rt: tokio::runtime::Runtime,
}

/// A runtime for the store's calls (S3 is async; the CLI is not).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// Opens the store at `location`.
pub fn open_store(rt: &tokio::runtime::Runtime, location: &str, path_style: bool) -> anyhow::Result<Store> {
    rt.block_on(Store::open(location, StoreOptions { path_style })).with_context(|| format!("cannot open the archive {location:?}"))
}

impl ArchiveOut {
    pub fn new(rules: &RuleSet, location: &str, path_style: bool) -> anyhow::Result<ArchiveOut> {
        let rt = runtime()?;
        let store = open_store(&rt, location, path_style)?;
        // Unique among the writers of one archive: several runs may archive into it.
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
        let writer = format!("run-{ms}-{}", std::process::id());
        let archive = Archive::new(rules, ArchiveOptions { writer, ..ArchiveOptions::default() });
        Ok(ArchiveOut { archive, store, rt })
    }

    /// The store's location, as summaries name it.
    pub fn url(&self) -> String {
        self.store.url()
    }

    /// Writes the sealed objects: each object, then its index (a replay reads indexes, so an index is
    /// only ever beside a whole object).
    pub fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(o) = self.archive.pop() {
            let index = o.index_json();
            self.rt.block_on(async {
                self.store.put(&o.key, o.body).await?;
                self.store.put(&o.index_key, index).await
            })
            .with_context(|| format!("cannot archive {} records", o.index.records))?;
        }
        Ok(())
    }

    /// Seals and writes everything still open.
    pub fn finish(&mut self) -> anyhow::Result<&ArchiveCounters> {
        self.archive.seal_all();
        self.drain()?;
        Ok(self.archive.counters())
    }
}
