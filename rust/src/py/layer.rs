//! `unpack_layer`, `pack_layer` and their frozen result class.

use super::errors::layer_err;
use crate::layer::{self, Compression, PackOptions, UnpackOptions, WhiteoutFormat};
use crate::sys::fd::dup_cloexec;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;

/// What one pass over a layer learnt: both digests, the blob size and the entry count.
#[pyclass(frozen, module = "pycore._native")]
pub struct LayerDigests(layer::LayerDigests);

#[pymethods]
impl LayerDigests {
    #[getter]
    fn digest(&self) -> &str {
        &self.0.digest
    }
    #[getter]
    fn diff_id(&self) -> &str {
        &self.0.diff_id
    }
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    #[getter]
    fn compression(&self) -> &'static str {
        self.0.compression.as_str()
    }
    #[getter]
    fn entries(&self) -> u64 {
        self.0.entries
    }
    fn __repr__(&self) -> String {
        let d = &self.0;
        format!(
            "LayerDigests(digest={:?}, diff_id={:?}, size={}, compression={:?}, entries={})",
            d.digest,
            d.diff_id,
            d.size,
            d.compression.as_str(),
            d.entries
        )
    }
}

fn whiteout_format(s: &str) -> PyResult<WhiteoutFormat> {
    match s {
        "overlay" => Ok(WhiteoutFormat::Overlay),
        "flat" => Ok(WhiteoutFormat::Flat),
        _ => Err(PyValueError::new_err(format!(
            "whiteouts must be \"overlay\" or \"flat\", not {s:?}"
        ))),
    }
}

fn compression(s: &str) -> PyResult<Compression> {
    match s {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "none" => Ok(Compression::None),
        _ => Err(PyValueError::new_err(format!(
            "compression must be gzip, zstd or none, not {s:?}"
        ))),
    }
}

/// Where `unpack_layer` reads the blob: a path, or a readable descriptor (a pipe) to EOF.
#[derive(FromPyObject)]
pub enum BlobSource {
    Fd(i32),
    Path(PathBuf),
}

impl BlobSource {
    /// The blob opened for reading (a private duplicate of a descriptor) and its name.
    fn open(&self) -> Result<(File, String), layer::LayerError> {
        let (name, opened) = match self {
            BlobSource::Fd(fd) => (
                format!("fd {fd}"),
                dup_cloexec(*fd)
                    .map(File::from)
                    .map_err(|e| std::io::Error::from_raw_os_error(e.0)),
            ),
            BlobSource::Path(p) => (p.display().to_string(), File::open(p)),
        };
        opened
            .map(|f| (f, name.clone()))
            .map_err(|source| layer::LayerError::Io {
                op: "open",
                path: name,
                source,
            })
    }
}

#[pyfunction]
#[pyo3(signature = (blob, dest, *, whiteouts = "overlay", digest = None, size = None, diff_id = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn unpack_layer(
    py: Python<'_>,
    blob: BlobSource,
    dest: PathBuf,
    whiteouts: &str,
    digest: Option<String>,
    size: Option<u64>,
    diff_id: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<LayerDigests> {
    let whiteouts = whiteout_format(whiteouts)?;
    // An exception raised by `progress` is kept here and re-raised as itself.
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let result = py.detach(|| {
        let mut report = |n: u64| -> bool {
            let Some(cb) = progress.as_ref() else {
                return true;
            };
            Python::attach(|py| match cb.call1(py, (n,)) {
                Ok(_) => true,
                Err(e) => {
                    if let Ok(mut slot) = raised.lock() {
                        *slot = Some(e);
                    }
                    false
                }
            })
        };
        let opts = UnpackOptions {
            whiteouts,
            digest,
            size,
            diff_id,
            progress: Some(&mut report),
        };
        let (file, name) = blob.open()?;
        layer::unpack_from(file, name, &dest, opts)
    });
    match result {
        Ok(d) => Ok(LayerDigests(d)),
        Err(e) => match raised.into_inner().ok().flatten() {
            Some(py_err) => Err(py_err),
            None => Err(layer_err(e)),
        },
    }
}

#[pyfunction]
#[pyo3(signature = (src, out, *, compression = "gzip", level = None))]
pub fn pack_layer(
    py: Python<'_>,
    src: PathBuf,
    out: PathBuf,
    compression: &str,
    level: Option<i32>,
) -> PyResult<LayerDigests> {
    let opts = PackOptions {
        compression: self::compression(compression)?,
        level,
    };
    py.detach(|| layer::pack(&src, &out, &opts))
        .map(LayerDigests)
        .map_err(layer_err)
}
