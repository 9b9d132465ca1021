"""Result store: the base models' test scores of a run, kept safely on disk.

A run directory holds

``manifest.json``
    the run's identity (configuration, seed, a SHA-256 of the data and of the
    partition), the package versions that produced it, and one entry per chunk file
    with its model ids and the SHA-256 of its bytes;
``scores_<first>-<last>_<digest>.npz``
    one chunk: ``model_ids`` (``int64``) and ``scores`` (``float32``, shape
    ``(n_test, len(model_ids), num_classes)``), written with :func:`numpy.savez`;
``weights_<first>-<last>_<digest>.npz``
    optionally, the chunk's base models: for model ``i`` the arrays ``m<i>:<name>``
    (its ``state_dict`` entries and normalisation statistics), checksummed in the
    chunk's manifest entry like the scores (:meth:`RunDir.load_weights`);
``<name>.npz`` listed under ``files``
    other arrays of the run (the test labels of a run on a user's own data, the
    per-epoch checkpoints of a chunk in progress; :meth:`RunDir.save_arrays`).

Every file is written atomically (a temporary file in the same directory, flushed and
``fsync``-ed, then :func:`os.replace`), so a run killed at any moment leaves either
the old or the new version, never a torn one. Chunks are read with
``numpy.load(allow_pickle=False)``; nothing is ever pickled. A chunk whose bytes no
longer match its checksum (truncated, altered, missing) is dropped and its models are
trained again. :func:`run_training` resumes a killed run from the chunks already
finished and, because chunk boundaries depend only on the number of models, the chunk
size and the shard, ends with exactly the scores of an uninterrupted run. Shards of
one run (``shard=(i, n)``) can be merged with :func:`merge`.

The certificates of the book (DPA, FA, ROE) read these scores; see the experiment
chapters and the CLI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ldcbook._checks import check_array, check_int

FORMAT = "ldcbook-run"
VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
_IDENTITY = ("config", "data_hash", "parts_hash", "num_models", "n_test", "num_classes")
_PACKAGES = ("numpy", "scipy", "torch", "torchvision", "scikit-image", "scikit-learn")

try:  # POSIX advisory locks let shards share a run directory safely
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------------
# Low-level helpers


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, ``os.replace``.

    Serves the result store: a reader sees the old file or the new
    one, never a partial write.

    Parameters
    ----------
    path : str or path-like
        Destination; its directory must exist.
    data : bytes
        The file's content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(
        f"config values must be JSON-serialisable, got {type(obj).__name__}"
    )


def normalize_config(config: Any) -> dict[str, Any]:
    """Turn a run configuration into the plain JSON dict stored in the manifest.

    Accepts a dict or a dataclass (such as ``ldcbook.ensemble.TrainConfig``); tuples
    become lists and numpy scalars Python numbers, so that a configuration read back
    from the manifest compares equal to the one that wrote it.

    Parameters
    ----------
    config : dict or dataclass instance

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``config`` is neither, or holds values JSON cannot represent.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, dict):
        raise TypeError(
            f"config must be a dict or a dataclass, got {type(config).__name__}"
        )
    text = json.dumps(config, sort_keys=True, default=_json_default, allow_nan=False)
    return json.loads(text)


def data_hash(dataset: Any) -> str:
    """SHA-256 of a dataset's training and test data, labels and hash keys.

    Stored in the manifest so that scores are never resumed or merged across different
    data. Covers the name, ``num_classes``, and the dtype, shape and bytes of
    ``x_train``, ``y_train``, ``train_keys``, ``x_test`` and ``y_test``.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        Or anything with those attributes (tensors or arrays).

    Returns
    -------
    str
        64 hexadecimal digits.

    Raises
    ------
    TypeError
        If an attribute is missing.
    """
    h = hashlib.sha256(b"ldcbook-data-v1\0")
    for attr in ("name", "num_classes"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have {attr} (an ldcbook.data.Dataset)")
        h.update(f"{attr}={getattr(dataset, attr)}\0".encode())
    for attr in ("x_train", "y_train", "train_keys", "x_test", "y_test"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have {attr} (an ldcbook.data.Dataset)")
        arr = _numpy(getattr(dataset, attr))
        h.update(f"{attr}:{arr.dtype.str}:{arr.shape}\0".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def parts_hash(parts: Sequence[Any]) -> str:
    """SHA-256 of a partition: each model's index array, in model-id order.

    Parameters
    ----------
    parts : sequence of array_like of int

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256(b"ldcbook-parts-v1\0")
    for j, part in enumerate(parts):
        idx = check_array(f"parts[{j}]", _numpy(part), ndim=1, kind="i").astype("<i8")
        h.update(f"{len(idx)}\0".encode())
        h.update(idx.tobytes())
    return h.hexdigest()


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def package_versions() -> dict[str, str]:
    """Versions of Python, ldcbook and the numerical packages, for the manifest."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("ldcbook",) + _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _chunk_name(ids: np.ndarray) -> str:
    digest = _sha256(ids.astype("<i8").tobytes())[:12]
    return f"scores_{ids.min():06d}-{ids.max():06d}_{digest}.npz"


# ----------------------------------------------------------------------------------
# The run directory


class RunDir:
    """A run directory: manifest plus checksummed score chunks.

    Create one with :meth:`create`, reopen it with :meth:`open`. Not thread-safe
    within one process; processes sharing a directory serialise their manifest
    updates through an advisory lock file (POSIX).
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self._manifest = manifest

    # -- construction ----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        config: Any,
        data_hash: str,
        num_models: int,
        n_test: int,
        num_classes: int,
        *,
        parts_hash: str | None = None,
    ) -> RunDir:
        """Start a new run directory (created if needed) with its manifest.

        Parameters
        ----------
        path : str or path-like
            The directory; it must not hold a manifest yet.
        config : dict or dataclass
            The run's configuration (see :func:`normalize_config`); its ``seed``, if
            any, is also recorded as ``seed``.
        data_hash : str
            :func:`data_hash` of the dataset.
        num_models, n_test, num_classes : int
            The shape of the full score array ``(n_test, num_models, num_classes)``.
        parts_hash : str, optional
            :func:`parts_hash` of the partition.

        Returns
        -------
        RunDir

        Raises
        ------
        FileExistsError
            If ``path`` already holds a manifest.
        TypeError, ValueError
            If an argument is malformed.
        """
        path = Path(path)
        cfg = normalize_config(config)
        if not isinstance(data_hash, str) or not data_hash:
            raise TypeError("data_hash must be a non-empty str (see store.data_hash)")
        if parts_hash is not None and not isinstance(parts_hash, str):
            raise TypeError("parts_hash must be a str or None")
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "config": cfg,
            "seed": cfg.get("seed"),
            "data_hash": data_hash,
            "parts_hash": parts_hash,
            "num_models": check_int("num_models", num_models, min_value=1),
            "n_test": check_int("n_test", n_test, min_value=0),
            "num_classes": check_int("num_classes", num_classes, min_value=1),
            "packages": package_versions(),
            "chunks": {},
        }
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path, manifest)
        with run._locked():
            if (path / MANIFEST).exists():
                raise FileExistsError(f"{path} already holds a run ({MANIFEST} exists)")
            run._write_manifest()
        return run

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """Open an existing run directory.

        Raises
        ------
        FileNotFoundError
            If ``path`` holds no manifest.
        ValueError
            If the manifest is not a valid ldcbook run manifest.
        """
        path = Path(path)
        run = cls(path, {})
        run._manifest = run._read_manifest()
        return run

    # -- manifest ---------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the manifest as last read or written."""
        return json.loads(json.dumps(self._manifest))

    @property
    def num_models(self) -> int:
        return int(self._manifest["num_models"])

    @property
    def n_test(self) -> int:
        return int(self._manifest["n_test"])

    @property
    def num_classes(self) -> int:
        return int(self._manifest["num_classes"])

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]

    def identity(self) -> dict[str, Any]:
        """The fields that must agree for two runs to be resumed or merged."""
        return {key: self._manifest.get(key) for key in _IDENTITY}

    def _read_manifest(self) -> dict[str, Any]:
        file = self.path / MANIFEST
        if not file.is_file():
            raise FileNotFoundError(f"{self.path} holds no run ({MANIFEST} not found)")
        try:
            manifest = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{file} is not valid JSON: {err}") from err
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"{file} is not an ldcbook run manifest")
        if manifest.get("version") != VERSION:
            raise ValueError(
                f"{file} has format version {manifest.get('version')}, "
                f"expected {VERSION}"
            )
        missing = [key for key in _IDENTITY + ("chunks",) if key not in manifest]
        if missing:
            raise ValueError(f"{file} lacks the fields {missing}")
        return manifest

    def _write_manifest(self) -> None:
        text = json.dumps(self._manifest, indent=1, sort_keys=True)
        atomic_write_bytes(self.path / MANIFEST, text.encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self.path / LOCK, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # -- chunks ----------------------------------------------------------------------

    def _read_chunk(self, name: str, entry: dict[str, Any]) -> bytes | None:
        """The chunk's bytes if they match the manifest's checksum, else ``None``."""
        try:
            data = (self.path / name).read_bytes()
        except OSError:
            return None
        return data if _sha256(data) == entry.get("sha256") else None

    def _drop(self, names: Sequence[str]) -> None:
        for name in names:
            entry = self._manifest["chunks"].pop(name)
            for fname in [name] + ([entry["weights"]["file"]] if "weights" in entry
                                   else []):
                file = self.path / fname
                if file.exists():
                    os.replace(file, file.with_name(fname + ".corrupt"))
            warnings.warn(
                f"{self.path / name} is missing or fails its SHA-256 check; its models "
                f"{entry['model_ids']} will be recomputed",
                RuntimeWarning,
                stacklevel=3,
            )

    def verify(self) -> dict[str, bool]:
        """Check every chunk in the manifest against its SHA-256 (nothing is changed).

        Returns
        -------
        dict
            Chunk file name -> whether its bytes match.
        """
        self._manifest = self._read_manifest()
        return self._verify_loaded()

    def finished(self) -> np.ndarray:
        """Model ids whose scores are stored in a chunk that passes its checksum.

        A chunk that is missing, truncated or altered is dropped from the manifest
        (its file renamed to ``*.corrupt``, with a :class:`RuntimeWarning`), so that
        its models are reported unfinished and get recomputed. A chunk file that the
        manifest does not list (a run killed between writing it and listing it) has
        no trusted checksum and is deleted.

        Returns
        -------
        numpy.ndarray
            Sorted ``int64`` model ids.
        """
        with self._locked():
            self._manifest = self._read_manifest()
            bad = [name for name, ok in self._verify_loaded().items() if not ok]
            if bad:
                self._drop(bad)
                self._write_manifest()
            # chunks are written and listed under the lock: unlisted ones are orphans
            listed = set(self._manifest["chunks"]) | {
                e["weights"]["file"] for e in self._manifest["chunks"].values()
                if "weights" in e}
            for pattern in ("scores_*.npz", "weights_*.npz"):
                for file in self.path.glob(pattern):
                    if file.name not in listed:
                        file.unlink()
        ids = [i for e in self._manifest["chunks"].values() for i in e["model_ids"]]
        return np.array(sorted(ids), dtype=np.int64)

    def _verify_loaded(self) -> dict[str, bool]:
        return {
            name: self._read_chunk(name, entry) is not None
            and ("weights" not in entry or self._read_weights(entry) is not None)
            for name, entry in sorted(self._manifest["chunks"].items())
        }

    def save_chunk(
        self, model_ids: Any, scores: Any, weights: dict[str, Any] | None = None
    ) -> Path:
        """Store the test scores of some models as one chunk, atomically.

        The chunk file is written first, then the manifest that lists it (both
        atomically): a run killed in between leaves an unlisted file that a resumed
        run overwrites.

        Parameters
        ----------
        model_ids : array_like of int
            Distinct ids in ``range(num_models)``, none already stored.
        scores : array_like of float
            Shape ``(n_test, len(model_ids), num_classes)``, finite; stored as
            ``float32``, column ``j`` belonging to ``model_ids[j]``.
        weights : dict of str to numpy.ndarray, optional
            The models themselves: keys ``m<i>:<name>`` for each id ``i`` (numeric
            arrays), written to ``weights_*.npz`` and checksummed in the same entry.

        Returns
        -------
        pathlib.Path
            The chunk file.

        Raises
        ------
        TypeError, ValueError
            If the ids or the scores are malformed, or an id is already stored.
        """
        ids = check_array("model_ids", _numpy(model_ids), ndim=1, kind="i")
        ids = ids.astype(np.int64)
        if ids.size == 0:
            raise ValueError("model_ids must not be empty")
        if ids.min() < 0 or ids.max() >= self.num_models:
            raise ValueError(f"model_ids must lie in range({self.num_models})")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("model_ids must be distinct")
        arr = check_array("scores", _numpy(scores), ndim=3, kind="f")
        want = (self.n_test, len(ids), self.num_classes)
        if arr.shape != want:
            raise ValueError(f"scores must have shape {want}, got {arr.shape}")
        arr = arr.astype(np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError("scores must be finite in float32")
        buf = io.BytesIO()
        np.savez(buf, model_ids=ids, scores=arr)
        data = buf.getvalue()
        name = _chunk_name(ids)
        wdata = None if weights is None else _weights_bytes(ids, weights)
        with self._locked():
            self._manifest = self._read_manifest()
            new = set(ids.tolist())
            chunks = self._manifest["chunks"]
            clash = {n: e for n, e in chunks.items() if new & set(e["model_ids"])}
            bad = [n for n, e in clash.items() if self._read_chunk(n, e) is None]
            good = sorted(set(clash) - set(bad))
            if good:
                taken = sorted(new & {i for n in good for i in clash[n]["model_ids"]})
                raise ValueError(f"model_ids {taken} are already stored in {good}")
            if bad:
                self._drop(bad)
            entry: dict[str, Any] = {
                "model_ids": ids.tolist(),
                "sha256": _sha256(data),
                "bytes": len(data),
            }
            if wdata is not None:
                wname = "weights_" + name[len("scores_"):]
                atomic_write_bytes(self.path / wname, wdata)
                entry["weights"] = {"file": wname, "sha256": _sha256(wdata),
                                    "bytes": len(wdata)}
            atomic_write_bytes(self.path / name, data)
            self._manifest["chunks"][name] = entry
            self._write_manifest()
        return self.path / name

    def _read_weights(self, entry: dict[str, Any]) -> bytes | None:
        info = entry.get("weights")
        if info is None:
            return None
        try:
            data = (self.path / info["file"]).read_bytes()
        except OSError:
            return None
        return data if _sha256(data) == info.get("sha256") else None

    def has_weights(self) -> bool:
        """Whether every stored chunk also stores its models (``weights_*.npz``)."""
        chunks = self._read_manifest()["chunks"]
        return bool(chunks) and all("weights" in e for e in chunks.values())

    def load_weights(self, model_id: int) -> dict[str, np.ndarray]:
        """The stored arrays of one base model (its ``state_dict``, its statistics).

        Parameters
        ----------
        model_id : int
            In ``range(num_models)``.

        Returns
        -------
        dict of str to numpy.ndarray
            Names without the ``m<i>:`` prefix.

        Raises
        ------
        ValueError
            If the model is not stored with weights, or its file fails its SHA-256.
        """
        i = check_int("model_id", model_id, min_value=0, max_value=self.num_models - 1)
        self._manifest = self._read_manifest()
        for name, entry in sorted(self._manifest["chunks"].items()):
            if i not in entry["model_ids"]:
                continue
            if "weights" not in entry:
                raise ValueError(
                    f"{self.path} stores no weights for model {i} (its chunk {name} "
                    "holds scores only; the run was made before models were kept)"
                )
            data = self._read_weights(entry)
            if data is None:
                raise ValueError(
                    f"{self.path / entry['weights']['file']} is missing or fails its "
                    "SHA-256 check; resume the run to recompute it"
                )
            prefix = f"m{i}:"
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {key[len(prefix):]: npz[key] for key in npz.files
                        if key.startswith(prefix)}
        raise ValueError(f"{self.path} has not finished model {i}")

    # -- other arrays ----------------------------------------------------------------

    def save_arrays(self, name: str, arrays: dict[str, Any]) -> Path:
        """Store named arrays as ``<name>.npz``, atomically, checksummed in the
        manifest.

        Parameters
        ----------
        name : str
            Letters, digits, ``_`` and ``-`` only.
        arrays : dict of str to array_like
            Numeric arrays (no objects: nothing is pickled).

        Returns
        -------
        pathlib.Path
        """
        file = self.path / _array_file(name)
        data = _npz_bytes(arrays, "arrays")
        with self._locked():
            self._manifest = self._read_manifest()
            atomic_write_bytes(file, data)
            self._manifest.setdefault("files", {})[file.name] = {
                "sha256": _sha256(data), "bytes": len(data)}
            self._write_manifest()
        return file

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of :meth:`save_arrays`, or ``None`` if absent or corrupt."""
        file = self.path / _array_file(name)
        self._manifest = self._read_manifest()
        entry = self._manifest.get("files", {}).get(file.name)
        if entry is None:
            return None
        try:
            data = file.read_bytes()
        except OSError:
            return None
        if _sha256(data) != entry["sha256"]:
            return None
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}

    def delete_arrays(self, name: str) -> None:
        """Remove ``<name>.npz`` and its manifest entry (nothing if absent)."""
        file = self.path / _array_file(name)
        with self._locked():
            self._manifest = self._read_manifest()
            if self._manifest.get("files", {}).pop(file.name, None) is not None:
                self._write_manifest()
            with contextlib.suppress(FileNotFoundError):
                file.unlink()

    def _load_chunk(
        self, name: str, entry: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        data = self._read_chunk(name, entry)
        if data is None:
            raise ValueError(
                f"{self.path / name} is missing or fails its SHA-256 check; "
                "call finished() or run_training() to recompute it"
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            ids, scores = npz["model_ids"], npz["scores"]
        if ids.tolist() != entry["model_ids"]:
            raise ValueError(
                f"{self.path / name} holds other model ids than its manifest"
            )
        want = (self.n_test, len(ids), self.num_classes)
        if scores.shape != want:
            raise ValueError(f"{self.path / name} holds scores of shape {scores.shape}")
        return ids, scores

    def load_scores(self) -> np.ndarray:
        """All models' test scores, in model-id order.

        Returns
        -------
        numpy.ndarray
            ``float32`` of shape ``(n_test, num_models, num_classes)``; column ``i`` is
            model ``i`` (the order the FA certificate requires).

        Raises
        ------
        ValueError
            If a model is missing or a chunk fails its checksum.
        """
        self._manifest = self._read_manifest()
        shape = (self.n_test, self.num_models, self.num_classes)
        out = np.zeros(shape, dtype=np.float32)
        seen = np.zeros(self.num_models, dtype=bool)
        for name, entry in sorted(self._manifest["chunks"].items()):
            ids, scores = self._load_chunk(name, entry)
            out[:, ids] = scores
            seen[ids] = True
        if not seen.all():
            missing = np.flatnonzero(~seen)
            raise ValueError(
                f"{self.path} lacks the scores of {len(missing)} model(s): "
                f"{_abbrev(missing)}; resume the run to compute them"
            )
        return out

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"


def _array_file(name: str) -> str:
    if not isinstance(name, str) or not name or not all(
        c.isalnum() or c in "_-" for c in name
    ):
        raise ValueError(f"name must be letters, digits, _ and - only, got {name!r}")
    if name.startswith(("scores_", "weights_")):
        raise ValueError(f"name must not start like a chunk file, got {name!r}")
    return f"{name}.npz"


def _npz_bytes(arrays: Any, what: str) -> bytes:
    if not isinstance(arrays, dict):
        raise TypeError(f"{what} must be a dict of str to arrays, got {type(arrays)}")
    plain = {}
    for key, value in arrays.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {key!r}")
        arr = _numpy(value)
        arr = np.ascontiguousarray(arr) if arr.ndim else arr  # keep 0-d arrays 0-d
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what}[{key!r}] must be numeric, got dtype {arr.dtype}")
        plain[key] = arr
    buf = io.BytesIO()
    np.savez(buf, **plain)
    return buf.getvalue()


def _weights_bytes(ids: np.ndarray, weights: dict[str, Any]) -> bytes:
    prefixes = {f"m{i}:" for i in ids.tolist()}
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict of str to arrays, got {type(weights)}")
    stray = [k for k in weights if not isinstance(k, str)
             or k[: k.find(":") + 1] not in prefixes]
    if stray:
        raise ValueError(
            f"weights keys must be m<i>:<name> for the chunk's ids, got {stray[:3]}"
        )
    return _npz_bytes(weights, "weights")


def _abbrev(ids: np.ndarray, limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return f"[{shown}{', ...' if len(ids) > limit else ''}]"


# ----------------------------------------------------------------------------------
# Merging and the training driver


def _config_diff(
    old: Any, new: Any, prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """The settings (dotted keys) in which two stored configurations differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _config_diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def _short_hash(config: Any) -> str:
    text = json.dumps(config, sort_keys=True, default=_json_default)
    return _sha256(text.encode())[:8]


def _open_or_create(path: Path, identity: dict[str, Any]) -> RunDir:
    if (path / MANIFEST).exists():
        run = RunDir.open(path)
        mine = run.identity()
        diff = [key for key in _IDENTITY if mine.get(key) != identity.get(key)]
        if diff:
            detail = ", ".join(diff)
            if diff == ["config"]:  # name the settings themselves
                detail = ", ".join(
                    f"{key}: stored {old!r}, asked {new!r}"
                    for key, old, new in _config_diff(mine["config"],
                                                      identity["config"])
                )
            raise ValueError(
                f"{path} holds a different run ({detail}); use another directory "
                f"(e.g. {path.name}-{_short_hash(identity['config'])}) or delete it"
            )
        return run
    try:
        return RunDir.create(
            path,
            identity["config"],
            identity["data_hash"],
            identity["num_models"],
            identity["n_test"],
            identity["num_classes"],
            parts_hash=identity["parts_hash"],
        )
    except FileExistsError:  # another shard created it meanwhile
        return _open_or_create(path, identity)


def merge(dest: str | os.PathLike[str], sources: Sequence[Any]) -> RunDir:
    """Merge the chunks of several runs of the same experiment (``--shard`` runs).

    Every source must agree on the configuration, data hash, partition hash and
    shape. Verified chunks are copied (bytes re-checked); a chunk already present with
    the same bytes is skipped, so merging is idempotent. A corrupt chunk of a source
    is dropped there (as :meth:`RunDir.finished` does) and not copied; resume that
    shard or the merged run to recompute it. The sources' other arrays
    (:meth:`RunDir.save_arrays`, such as stored test labels) are copied too, except
    checkpoints of chunks in progress. ``dest`` may be new or an
    existing run of the same experiment (even one of the sources).

    Parameters
    ----------
    dest : str or path-like
        The run directory to merge into.
    sources : sequence of str, path-like or RunDir
        The runs to merge.

    Returns
    -------
    RunDir
        The merged run.

    Raises
    ------
    ValueError
        If the sources describe different runs, or two different chunks (other bytes
        or other model ids) store scores of one model.
    """
    if isinstance(sources, (str, bytes, os.PathLike)) or not isinstance(
        sources, Sequence
    ):
        raise TypeError("sources must be a sequence of run directories")
    if not sources:
        raise ValueError("sources must name at least one run")
    runs = [s if isinstance(s, RunDir) else RunDir.open(s) for s in sources]
    identity = runs[0].identity()
    for run in runs[1:]:
        diff = [k for k in _IDENTITY if run.identity().get(k) != identity.get(k)]
        if diff:
            raise ValueError(f"{run.path} and {runs[0].path} differ in {diff}")
    out = _open_or_create(Path(dest), identity)
    for run in runs:
        # the run's other arrays (e.g. stored test labels), not checkpoints in progress
        for fname in sorted(run.manifest.get("files", {})):
            name = fname[: -len(".npz")]
            if name.startswith("ckpt-") or out.load_arrays(name) is not None:
                continue
            arrays = run.load_arrays(name)
            if arrays is not None:
                out.save_arrays(name, arrays)
        run.finished()  # drop corrupt chunks of the source first
        for name, entry in sorted(run._manifest["chunks"].items()):
            data = run._read_chunk(name, entry)
            if data is None:  # changed since finished(); let the caller retry
                raise ValueError(f"{run.path / name} changed while merging")
            ids = np.asarray(entry["model_ids"], dtype=np.int64)
            with out._locked():
                out._manifest = out._read_manifest()
                same = out._manifest["chunks"].get(name)
                if same is not None and same["sha256"] == entry["sha256"]:
                    continue
            weights = None
            if "weights" in entry:
                wdata = run._read_weights(entry)
                if wdata is None:
                    raise ValueError(f"{run.path / name}: its weights changed while "
                                     "merging")
                with np.load(io.BytesIO(wdata), allow_pickle=False) as wnpz:
                    weights = {key: wnpz[key] for key in wnpz.files}
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                    out.save_chunk(ids, npz["scores"], weights)
            except ValueError as err:
                raise ValueError(f"cannot merge {run.path / name}: {err}") from err
    return out


def shard_chunks(
    num_models: int, chunk_size: int, shard: tuple[int, int]
) -> list[np.ndarray]:
    """The chunks of model ids that shard ``i`` of ``n`` trains, in order.

    Chunk ``c`` is the block ``range(c*chunk_size, (c+1)*chunk_size)`` of model ids;
    shard ``i`` takes the chunks ``c`` with ``c % n == i``. The chunks depend only on
    these three arguments, so a resumed or sharded run trains every model in the same
    company as an uninterrupted single run (batched kernels then give the same bits).

    Parameters
    ----------
    num_models : int
        Number of base models, ``>= 1``.
    chunk_size : int
        Models per chunk, ``>= 1``.
    shard : tuple of int
        ``(i, n)`` with ``0 <= i < n``.

    Returns
    -------
    list of numpy.ndarray
    """
    num_models = check_int("num_models", num_models, min_value=1)
    chunk_size = check_int("chunk_size", chunk_size, min_value=1)
    i, n = _check_shard(shard)
    ids = np.arange(num_models, dtype=np.int64)
    chunks = [ids[s : s + chunk_size] for s in range(0, num_models, chunk_size)]
    return chunks[i::n]


def _check_shard(shard: Any) -> tuple[int, int]:
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise TypeError(f"shard must be a pair (i, n), got {shard!r}")
    n = check_int("shard[1]", shard[1], min_value=1)
    i = check_int("shard[0]", shard[0], min_value=0, max_value=n - 1)
    return i, n


TrainFn = Callable[[Any, Sequence[np.ndarray], np.ndarray, Any], Any]


def run_training(
    path: str | os.PathLike[str],
    dataset: Any,
    parts: Sequence[Any],
    config: Any,
    chunk_size: int,
    shard: tuple[int, int] = (0, 1),
    train_fn: TrainFn | None = None,
    progress: bool = False,
) -> RunDir:
    """Train the base models chunk by chunk into a run directory, resuming if needed.

    Serves the experiment chapters and the CLI. For each chunk of
    :func:`shard_chunks` whose models are not all finished (checksums verified), calls
    ``train_fn(dataset, parts, model_ids, config)`` for the unfinished ones and stores
    the returned scores. A run killed part-way and started again computes only what is
    missing and ends with the scores of an uninterrupted run, provided ``train_fn``
    is deterministic (if ``chunk_size`` changed in between, a partly stored chunk is
    completed with only its missing models).

    Parameters
    ----------
    path : str or path-like
        The run directory (created on the first call).
    dataset : ldcbook.data.Dataset
        The data; its :func:`data_hash` guards against resuming on other data.
    parts : sequence of array_like of int
        Training indices of each model, in model-id order.
    config : dataclass or dict
        The training configuration, passed to ``train_fn`` unchanged and stored in
        the manifest through :func:`normalize_config`.
    chunk_size : int
        Models trained together per call of ``train_fn``.
    shard : tuple of int
        ``(i, n)``: train only the chunks of shard ``i`` of ``n``.
    train_fn : callable, optional
        ``(dataset, parts, model_ids, config) -> scores`` of shape
        ``(n_test, len(model_ids), num_classes)``, or ``(scores, weights)`` to keep
        the models too (see :meth:`RunDir.save_chunk`); default
        :func:`ldcbook.ensemble.fit_scores`.
    progress : bool
        Show a progress bar over chunks (tqdm).

    Returns
    -------
    RunDir

    Raises
    ------
    ValueError
        If ``path`` holds a run of another configuration, data or partition.
    """
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence):
        raise TypeError(f"parts must be a sequence of index arrays, got {type(parts)}")
    chunks = shard_chunks(len(parts), chunk_size, shard)
    n_train = len(dataset.y_train)
    for j, part in enumerate(parts):
        idx = check_array(f"parts[{j}]", _numpy(part), ndim=1, kind="i")
        if idx.size and (idx.min() < 0 or idx.max() >= n_train):
            raise ValueError(
                f"parts[{j}] must index range({n_train}) (the training set)"
            )
    if train_fn is None:
        from ldcbook.ensemble import fit_scores as train_fn
    if not callable(train_fn):
        raise TypeError("train_fn must be callable")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    identity = {
        "config": normalize_config(config),
        "data_hash": data_hash(dataset),
        "parts_hash": parts_hash(parts),
        "num_models": len(parts),
        "n_test": len(dataset.y_test),
        "num_classes": int(dataset.num_classes),
    }
    run = _open_or_create(Path(path), identity)
    done = set(run.finished().tolist())
    todo = [c[~np.isin(c, list(done))] for c in chunks]
    todo = [c for c in todo if c.size]
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc=f"chunks of shard {shard[0]}/{shard[1]}", unit="chunk")
    for ids in todo:
        result = train_fn(dataset, parts, ids, config)
        if isinstance(result, tuple):
            scores, weights = result
            run.save_chunk(ids, scores, weights)
        else:
            run.save_chunk(ids, result)
    return run
