//! Ahead-of-time compiled artifacts on disk.
//!
//! An artifact's file name is the sha256 of the component's bytes plus a hash
//! of the engine's compilation settings (`Engine::precompile_compatibility_hash`),
//! so a new wasmtime or a changed engine config misses the cache instead of
//! loading something incompatible. Writes go to a temporary file renamed into
//! place, so a reader never sees half an artifact.
//!
//! **Trust**: loading an artifact runs native code from the cache directory.
//! Only this process writes there; the directory must not be writable by
//! anyone else (the same trust as the binary itself).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// Uses `dir`, which is created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for `wasm` compiled by `engine` lives.
    pub fn artifact_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let wasm_hash = hex::encode(Sha256::digest(wasm));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{wasm_hash}-{:016x}.cwasm", hasher.finish()))
    }

    /// The compiled component for `wasm`: from the cache if there, else
    /// compiled and written to it. Returns whether it was a cache hit.
    ///
    /// A cache entry that fails to load (truncated, from another build) is
    /// recompiled and overwritten. A failure to write the cache is logged and
    /// otherwise ignored: the component still loads.
    pub(crate) fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, bool)> {
        let path = self.artifact_path(engine, wasm);
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, true)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "ignoring unusable compiled plugin artifact");
                }
            }
        }
        let component = Component::from_binary(engine, wasm)?;
        if let Err(error) = self.write(&path, &component) {
            tracing::warn!(path = %path.display(), error = %error, "could not cache compiled plugin");
        }
        Ok((component, false))
    }

    fn write(&self, path: &Path, component: &Component) -> wasmtime::Result<()> {
        let bytes = component.serialize()?;
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// Loads an artifact written by [`ArtifactCache::write`].
///
/// Read into memory rather than `deserialize_file`, which maps the file: a
/// mapped file truncated by someone else would kill the process with SIGBUS.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    let bytes = std::fs::read(path)?;
    // SAFETY: `deserialize` trusts the bytes to be an artifact produced by
    // `Component::serialize` of a compatible wasmtime (it checks the header,
    // version and engine settings, but runs the native code inside). Files in
    // this directory are only ever written by `ArtifactCache::write` above,
    // named by the hash of their source and engine, and renamed into place
    // whole; the directory is documented as trusted like the binary itself.
    unsafe { Component::deserialize(engine, &bytes) }
}
