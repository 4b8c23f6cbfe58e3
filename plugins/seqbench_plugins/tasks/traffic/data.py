"""Loaders for the real traffic formats of DCRNN (Li et al., ICLR 2018) and the shipped graphs.

* raw speeds: ``metr-la.h5`` (key ``df``) or ``pems-bay.h5`` (key ``speed``), a pandas HDF
  store indexed by 5-minute timestamps with one column per sensor id (needs PyTables:
  ``pip install 'seqbench[hdf]'``);
* the sensor graph ``adj_mx.pkl`` = (sensor ids, id -> index map, N x N adjacency), a
  Python 2 pickle, read only when the user names it (data key ``traffic-adj-pickle``) and then
  with a restricted unpickler that builds lists, dicts, strings, numbers and numpy arrays and
  refuses anything else (a plain pickle runs whatever code the file names); otherwise the
  METR-LA / PEMS-BAY graphs shipped as plain ``.npz`` are matched to the columns by sensor id
  (an ``.h5`` with fewer sensors than that graph runs on the subgraph, and says so);
* DCRNN's preprocessed windows ``{train,val,test}.npz`` with ``x``, ``y`` of shape
  (samples, 12, N, 2): speed and time of day.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqbench.errors import DataWarning
from seqbench_plugins.tasks.traffic.sim import Simulation

GRAPH_DIR = Path(__file__).resolve().parent / "road_graphs"
H5_KEYS = {"metr-la.h5": "df", "pems-bay.h5": "speed"}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# what DCRNN's adj_mx.pkl needs beyond lists, dicts, str and numbers: numpy arrays (numpy 1 and 2 names)
PICKLE_GLOBALS = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct",
                                                                                                  "scalar")}
# _codecs.encode: how Python 3 writes the bytes inside an array at protocol 2 (it only encodes text)
PICKLE_GLOBALS |= {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


SplitArrays = dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (x, y) windows


@dataclass(frozen=True)
class RoadGraph:
    sensor_ids: tuple[str, ...]
    adjacency: np.ndarray  # (N, N) float32, adjacency[i, j]: edge i -> j


def shipped_graph(name: str) -> RoadGraph:
    """The real ``metr-la`` or ``pems-bay`` sensor graph shipped with the package."""
    path = GRAPH_DIR / f"{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped road graph {name!r}: expected {path}")
    with np.load(path) as f:
        return RoadGraph(tuple(str(s) for s in f["sensor_ids"]), f["adjacency"].astype(np.float32))


class _GraphUnpickler(pickle.Unpickler):
    """Builds only what DCRNN's file holds; a pickle naming any other callable (``os.system``,
    ``builtins.eval``, ...) is refused before anything is called."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: the sensor-graph pickle may only hold "
                                     "lists, dicts, strings, numbers and numpy arrays")


def load_adj_pickle(path: str | Path) -> RoadGraph:
    """DCRNN's ``adj_mx.pkl``: (sensor_ids, sensor_id_to_ind, adj_mx), Python 2 pickle, read
    with :class:`_GraphUnpickler` (no code from the file runs)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            content = _GraphUnpickler(f, encoding="latin1").load()  # written by Python 2
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"{path}: cannot read the DCRNN sensor-graph pickle: {exc}") from exc
    if not (isinstance(content, (tuple, list)) and len(content) == 3):
        raise ValueError(f"{path}: expected (sensor_ids, sensor_id_to_ind, adj_mx), got {type(content).__name__}")
    ids, _, adj = content
    adj = np.asarray(adj, dtype=np.float32)
    if adj.ndim != 2 or adj.shape != (len(ids), len(ids)):
        n = len(ids)
        raise ValueError(f"{path}: adjacency of shape {adj.shape}, expected ({n}, {n}) for {n} sensor ids")
    return RoadGraph(tuple(str(s) for s in ids), adj)


def load_h5_speeds(path: str | Path) -> tuple[list[str], Simulation]:
    """Sensor ids and the speed series of a DCRNN HDF store, on a regular 5-minute grid
    (timestamps absent from the file become missing readings, i.e. zeros)."""
    import pandas as pd

    path = Path(path)
    try:
        import tables  # pandas needs it for HDF stores
    except ImportError as exc:
        raise ImportError(
            f"reading {path} needs PyTables, which is not installed: pip install 'seqbench[hdf]'"
        ) from exc
    key = H5_KEYS.get(path.name.lower())
    with path.open("rb") as handle:
        if handle.read(8) != HDF5_SIGNATURE:
            raise ValueError(f"{path}: not an HDF5 file (no HDF5 signature); expected DCRNN's metr-la.h5 / pems-bay.h5")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.strip("/") for k in store.keys()]
            if key is None:  # another file name: accept a single-table store
                key = keys[0] if len(keys) == 1 else None
            if key not in keys:
                raise KeyError(f"{path}: no table {key!r} in the HDF store (found {keys}); expected {H5_KEYS}")
            df = store[key]
    except (OSError, ValueError, TypeError, tables.HDF5ExtError, tables.NodeError) as exc:
        # HDF5 errors carry the library's whole C stack: keep its first line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ValueError(f"{path}: unreadable HDF5 file, truncated or damaged ({reason})") from None
    if not isinstance(df, pd.DataFrame) or not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError(f"{path}: table {key!r} must be a DataFrame indexed by timestamps")
    df = df.sort_index()
    grid = pd.date_range(df.index[0], df.index[-1], freq="5min")
    df = df.reindex(grid).fillna(0.0)
    minutes = grid.hour * 60 + grid.minute
    sim = Simulation(
        np.array(df.to_numpy(np.float32)),  # writable copy for torch
        (np.asarray(minutes) / (24 * 60)).astype(np.float32),
        np.asarray(grid.day_of_week),
    )
    return [str(c) for c in df.columns], sim


def match_graph(ids: list[str], graph: RoadGraph, source: str) -> np.ndarray:
    """Adjacency reordered to the column order ``ids``."""
    index = {s: i for i, s in enumerate(graph.sensor_ids)}
    unknown = [s for s in ids if s not in index]
    if unknown:
        raise ValueError(f"{source}: sensors {unknown[:5]} are not in the graph; pass data key traffic-adj-pickle")
    order = np.array([index[s] for s in ids])
    if len(ids) < len(graph.sensor_ids):
        warnings.warn(DataWarning(f"{source}: {len(ids)} of the graph's {len(graph.sensor_ids)} sensors; "
                                  f"running on that {len(ids)}-sensor subgraph"), stacklevel=2)
    return graph.adjacency[np.ix_(order, order)]


def load_npz_windows(directory: Path, steps_in: int, steps_out: int) -> SplitArrays:
    """DCRNN's preprocessed ``train/val/test.npz``: split -> (x, y), each (S, T, N, 2)."""
    out: SplitArrays = {}
    nodes: int | None = None
    for split in ("train", "val", "test"):
        path = directory / f"{split}.npz"
        x, y = _npz_arrays(path)
        for name, arr, steps in (("x", x, steps_in), ("y", y, steps_out)):
            if arr.ndim != 4 or arr.shape[1] != steps or arr.shape[3] < 2:
                raise ValueError(f"{path}: {name} has shape {arr.shape}, expected (samples, {steps}, nodes, >=2)")
        if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2] or (nodes is not None and x.shape[2] != nodes):
            raise ValueError(f"{path}: x {x.shape} and y {y.shape} disagree on samples or nodes (expected N={nodes})")
        nodes = x.shape[2]
        out[split] = (x, y)
    return out


def _npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of one DCRNN window file, or one line naming the file (never numpy's
    advice to load a file that is not an archive with ``allow_pickle``)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (DCRNN windows need train.npz, val.npz and test.npz)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .npz archive (truncated, or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise KeyError(f"{path}: missing arrays {missing} (found {f.files})")
            return f["x"].astype(np.float32), f["y"].astype(np.float32)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        kind = "holds Python objects, not plain arrays" if "pickle" in str(exc) else "damaged or truncated"
        raise ValueError(f"{path}: unreadable .npz archive ({kind})") from None


def graph_for_nodes(nodes: int, adj_pickle: str | None, source: str) -> np.ndarray:
    """The graph of an npz window set: the user's pickle, else the shipped graph of that size."""
    if adj_pickle:
        adj = load_adj_pickle(adj_pickle).adjacency
    else:
        sizes = {207: "metr-la", 325: "pems-bay"}
        if nodes not in sizes:
            raise ValueError(f"{source}: {nodes} sensors match no shipped graph (207, 325); pass traffic-adj-pickle")
        adj = shipped_graph(sizes[nodes]).adjacency
    if adj.shape != (nodes, nodes):
        raise ValueError(f"{source}: graph of shape {adj.shape}, expected ({nodes}, {nodes})")
    return adj


def load_directory(
    paths: Mapping[str, str], steps_in: int, steps_out: int
) -> tuple[np.ndarray, Simulation | SplitArrays]:
    """(adjacency, speed series or DCRNN windows) from data key ``traffic`` (a directory) and
    the optional, explicit ``traffic-adj-pickle``."""
    directory = Path(paths["traffic"])
    pickle_path = paths.get("traffic-adj-pickle")
    if (directory / "train.npz").is_file():
        windows = load_npz_windows(directory, steps_in, steps_out)
        return graph_for_nodes(windows["train"][0].shape[2], pickle_path, str(directory)), windows
    files = sorted(directory.glob("*.h5"))
    if len(files) != 1:
        raise FileNotFoundError(f"{directory}: expected train/val/test.npz or one .h5 file "
                                f"(metr-la.h5, pems-bay.h5), found {[f.name for f in files]}")
    ids, sim = load_h5_speeds(files[0])
    if pickle_path:
        graph = load_adj_pickle(pickle_path)
    else:  # the shipped graph of that network, matched by sensor id
        graph = shipped_graph("pems-bay" if len(ids) == 325 or "pems" in files[0].name.lower() else "metr-la")
    return match_graph(ids, graph, str(files[0])), sim


class Windows:
    """Forecasting windows of one split: gathered lazily from a series, or given outright."""

    def __init__(self, feats: torch.Tensor, raw: torch.Tensor, starts: torch.Tensor | None, steps: int = 12) -> None:
        self.feats, self.raw, self.starts = feats, raw, starts
        self.steps_in = self.steps_out = steps

    def __len__(self) -> int:
        return len(self.starts) if self.starts is not None else len(self.feats)

    def get(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.starts is None:
            return self.feats[index], self.raw[index]
        t = self.starts[index, None] + torch.arange(self.steps_in + self.steps_out)
        return self.feats[t[:, : self.steps_in]], self.raw[t[:, self.steps_in :]]


def features(speed: np.ndarray, tod: np.ndarray, dow: np.ndarray, mean: float, std: float) -> np.ndarray:
    """(..., N) speeds with (...) time stamps -> (..., N, 4): z speed (0 if missing), time of day,
    day of week / 7, observed flag."""
    valid = speed != 0
    z = np.where(valid, (speed - mean) / std, 0.0)
    shape = speed.shape
    return np.stack([z, np.broadcast_to(tod[..., None], shape), np.broadcast_to(dow[..., None] / 7.0, shape),
                     valid], axis=-1).astype(np.float32)
