"""Saving and loading: a model (or its weights alone) as one .npz file that plain NumPy reads.

Layout of a file (format version 1). Every entry is a NumPy array; text entries are 0-d
unicode arrays holding JSON, so `np.load(path)` works without `allow_pickle`:

    fastnn_format         int64, 0-d   format version; its presence marks a fastnn file
    content               str          "model" (save_model) or "weights" (save_weights)
    weights_layout        str, JSON    [[layer name, weight name, shape], ...] in get_weights() order
    weights               float, 1-d   every weight: the get_weights() arrays, each flattened in C
                                       order, concatenated (the model's parameter buffer), model dtype
    model_config          str, JSON    model.get_config(): name, dtype, input_shape, layers
    compile_config        str, JSON    {"optimizer": optimizer.get_config(), "loss": loss.get_config(),
                                        "metrics": [name or {class_name, config}], "device": "cpu" | "cuda"}
    optimizer_iterations  int64, 0-d   optimizer updates applied so far (Adam's step count)
    optimizer_slots       float, 2-d   optimizer state (n_slots, n_weights), laid out like `weights`

A weights file holds the first four entries. A model file holds all of them, except that
an unbuilt model has no weights_layout/weights, an uncompiled one no compile_config,
optimizer_iterations or optimizer_slots, and a compiled one that never trained no
optimizer_slots. Saving writes exactly the path given (a path ending in .keras gets a Keras 3
archive instead: keras_archive.py); loading reads the path as given when such a file exists,
else the path with ".npz" appended (what earlier versions wrote, as np.savez does).

Files are written atomically (a temporary file in the same folder, fsync, os.replace):
a failed save leaves an earlier file intact and no temporary file behind.
"""

import json
import os
import secrets
import struct
import warnings
import zipfile
import zlib

import numpy as np

from . import layers as layers_mod
from . import losses, metrics, optimizers

FORMAT_VERSION = 1
_SUFFIX = ".npz"
_ZIP_MAGIC, _NPY_MAGIC = b"PK", b"\x93NUMPY"  # how .npz (zip) and .npy files begin
# What np.load raises on an open file whose bytes are not a complete .npz (truncated, corrupt, foreign).
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, KeyError, OSError,
               NotImplementedError, RuntimeError)


class SaveFileError(ValueError):
    """A file that cannot be loaded: truncated, foreign, from a newer fastnn, or inconsistent."""


# --- saving ------------------------------------------------------------------------------
def save_model(model, path):
    """Write architecture, compile config, weights and optimizer state to one .npz file, atomically; to a
    path ending in .keras, a Keras 3 archive (architecture and weights) instead."""
    _check_model(model, "save_model")
    target = _save_path(path)
    if target.endswith(".keras"):
        from . import keras_archive
        keras_archive.save(model, target)
        return
    arrays = {"content": np.array("model"), "model_config": _json(model.get_config())}
    if model.built:
        arrays.update(_weight_arrays(model))
    if model.compiled:
        arrays.update(_compile_arrays(model))
    _write_atomic(target, arrays)


def save_weights(model, path):
    """Write the weights alone (and their layout) to one .npz file, atomically."""
    _check_model(model, "save_weights")
    model._require_built("save_weights")
    _write_atomic(_save_path(path), {"content": np.array("weights"), **_weight_arrays(model)})


def _weight_arrays(model):
    return {"weights_layout": _json(_layout(model)),  # (a shared buffer holds this model's weights first)
            "weights": model._store.host_copy()[:model.count_params()]}


def _compile_arrays(model):
    """compile_config, optimizer_iterations and (once the optimizer has state) optimizer_slots."""
    opt = model.optimizer
    config = {"optimizer": opt.get_config(), "loss": model.loss.get_config(),
              "metrics": [metrics.get_config(m) for m in model._metrics], "device": model.device}
    arrays = {"compile_config": _json(config), "optimizer_iterations": np.array(opt.iterations, np.int64)}
    if opt.slots is not None:
        arrays["optimizer_slots"] = np.array(model._backend.to_host(opt.slots), copy=True)
    return arrays


def _layout(model):
    """[[layer name, weight name, shape]] in get_weights() order."""
    return [[layer.name, name, list(shape)] for layer in model._leaves() for name, shape, _ in layer.param_specs()]


def _json(value):
    return np.array(json.dumps(value))


def _write_atomic(path, arrays):
    """np.savez into a temporary file beside path, fsync it, then rename it over path."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {path!r}: folder {folder!r} does not exist.")
    tmp, fd = _create_temp(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, fastnn_format=np.array(FORMAT_VERSION, np.int64), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_folder(folder)


def _create_temp(folder, name):
    """(path, fd) of a new hidden file in folder; created with 0o666 so the umask applies as usual."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_folder(folder):
    """Make the rename durable where the OS allows syncing a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- loading -----------------------------------------------------------------------------
def load_model(path, custom_objects=None):
    """The model saved at path: rebuilt, compiled (if it was), with its weights and optimizer state.
    A Keras 3 .keras archive gives its (uncompiled) model with its weights.

    custom_objects: {name: class} for a user's own classes the file names (a learning-rate schedule)."""
    from . import keras_archive
    if keras_archive.is_archive(_existing(path)):
        return keras_archive.load(_existing(path))
    found, data = _read(path)
    if _text(found, data, "content") != "model":
        raise SaveFileError(f"{found!r} holds weights only (written by save_weights). Expected a file written "
                            f"by model.save; load it into a model with model.load_weights instead.")
    model = _rebuild(found, _json_entry(found, data, "model_config"))
    if model.built != ("weights" in data):
        raise SaveFileError(f"{found!r} is inconsistent: its model is {'built' if model.built else 'unbuilt'} "
                            f"but the file {'lacks' if model.built else 'has'} weights.")
    if model.built:
        _set_weights(model, found, _weights_for(model, found, data, strict=True))
    if "compile_config" in data:
        _restore_compiled(model, found, data, custom_objects)
    elif "optimizer_slots" in data or "optimizer_iterations" in data:
        raise SaveFileError(f"{found!r} is inconsistent: it has optimizer state but no compile_config.")
    return model


def load_weights(model, path):
    """Read the weights of a file written by save_weights or save into this built model."""
    _check_model(model, "load_weights")
    model._require_built("load_weights")
    found, data = _read(path)
    _set_weights(model, found, _weights_for(model, found, data, strict=False))


def _set_weights(model, found, weights):
    """model.set_weights, with the file named in its error (e.g. NaN weights)."""
    try:
        model.set_weights(weights)
    except (TypeError, ValueError) as exc:
        raise SaveFileError(f"{found!r} holds weights model {model.name!r} rejects: {exc}") from exc


def _check_model(model, what):
    from .model import Sequential
    if not isinstance(model, Sequential):
        raise TypeError(f"{what} expects a fastnn Sequential model. Received: {type(model).__name__}")


def _existing(path):
    """The file to read: path itself if it is a file, else path + '.npz'; FileNotFoundError if neither."""
    path = _as_str(path)
    if os.path.isfile(path):
        return path
    if not path.endswith(_SUFFIX) and os.path.isfile(path + _SUFFIX):
        return path + _SUFFIX
    also = "" if path.endswith(_SUFFIX) else f" (nor {path + _SUFFIX!r})"
    raise FileNotFoundError(f"No fastnn save file at {path!r}{also}.")


def _read(path):
    """(path read, {name: array}) of a fastnn .npz file of a format version this code reads."""
    found = _existing(path)
    with open(found, "rb") as f:  # opened here so a permission error stays an OSError of its own
        head = f.read(len(_NPY_MAGIC))
        f.seek(0)
        zip_like, npy_like = head[:2] == _ZIP_MAGIC[:len(head)], _NPY_MAGIC.startswith(head)  # (or a cut-off start)
        if not (zip_like or npy_like):  # np.load would take it for a pickle and advise allow_pickle
            raise SaveFileError(f"{found!r} is not a fastnn save file: it is neither an .npz (zip) archive nor "
                                f"a NumPy array file (it starts with bytes {head!r}).")
        try:
            data = _load_npz(f)
        except _UNREADABLE as exc:
            raise SaveFileError(f"{found!r} is not a readable .npz file (truncated, corrupt or another "
                                f"format): {type(exc).__name__}: {exc}") from exc
    if data is None:
        raise SaveFileError(f"{found!r} holds a single .npy array. Expected a fastnn .npz file "
                            f"written by model.save or save_weights.")
    _check_version(found, data)
    return found, data


def _load_npz(f):
    """{name: array} of every entry of an open .npz file (None for a lone .npy array)."""
    loaded = np.load(f, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return None
    with loaded:
        return {name: loaded[name] for name in loaded.files}


def _check_version(found, data):
    if "fastnn_format" not in data:
        raise SaveFileError(f"{found!r} is an .npz file but not a fastnn save: expected an entry "
                            f"'fastnn_format', received entries {sorted(data)[:8]}.")
    version = data["fastnn_format"]
    if version.shape != () or version.dtype.kind not in "iu" or version < 1:
        raise SaveFileError(f"{found!r} has an invalid fastnn_format entry {version!r}; expected an integer >= 1.")
    if version > FORMAT_VERSION:
        raise SaveFileError(f"{found!r} was written in fastnn save format {int(version)}, newer than this "
                            f"fastnn reads (<= {FORMAT_VERSION}). Upgrade fastnn to load it.")


def _entry(found, data, key):
    if key not in data:
        raise SaveFileError(f"{found!r} lacks the entry {key!r}; the file is incomplete or not a fastnn save.")
    return data[key]


def _text(found, data, key):
    value = _entry(found, data, key)
    if value.shape != () or value.dtype.kind != "U":
        raise SaveFileError(f"{found!r} entry {key!r} should be a text scalar. "
                            f"Received: dtype={value.dtype}, shape={value.shape}")
    return str(value[()])


def _json_entry(found, data, key):
    try:
        return json.loads(_text(found, data, key))
    except json.JSONDecodeError as exc:
        raise SaveFileError(f"{found!r} entry {key!r} is not valid JSON: {exc}") from exc


def _rebuild(found, config):
    """A Sequential model (built when the saved one was) from a model_config."""
    from .model import Sequential
    try:
        layers = [_rebuild(found, entry["config"]) if entry.get("class_name") == "Sequential"
                  else layers_mod.deserialize(entry) for entry in config["layers"]]
        model = Sequential(layers, name=config["name"], dtype=config["dtype"])
        if not model.built and config.get("input_shape") is not None:
            model.build(config["input_shape"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SaveFileError(f"{found!r} has a model_config that cannot be rebuilt: "
                            f"{type(exc).__name__}: {exc}") from exc
    return model


def _weights_for(model, found, data, strict):
    """The file's weights split into get_weights() arrays, checked against the model's layout.

    strict (load_model): the dtype must be the model's; otherwise any float dtype is converted.
    """
    flat = _entry(found, data, "weights")
    shapes = [tuple(shape) for _, _, shape in _layout(model)]
    layout = _json_entry(found, data, "weights_layout")
    try:
        saved = [tuple(shape) for _, _, shape in layout]
    except (TypeError, ValueError) as exc:
        raise SaveFileError(f"{found!r} has an unreadable weights_layout: {exc}") from exc
    if saved != shapes:
        raise SaveFileError(f"{found!r} holds weights shaped {saved}, but model {model.name!r} expects {shapes}.")
    if flat.ndim != 1 or flat.dtype.kind != "f" or flat.size != sum(int(np.prod(s)) for s in shapes):
        raise SaveFileError(f"{found!r} entry 'weights' does not match its layout: expected a flat float array "
                            f"of {model.count_params()} values. Received: dtype={flat.dtype}, shape={flat.shape}")
    if strict and flat.dtype != np.dtype(model.dtype):
        raise SaveFileError(f"{found!r} is inconsistent: weights of dtype {flat.dtype} for a {model.dtype} model.")
    ends = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
    return [part.reshape(shape) for part, shape in zip(np.split(flat, ends), shapes)]


def _restore_compiled(model, found, data, custom_objects=None):
    """Compile as saved, then put back the optimizer's step count and state."""
    config = _json_entry(found, data, "compile_config")
    try:
        model.compile(optimizer=optimizers.from_config(config["optimizer"], custom_objects),
                      loss=losses.from_config(config["loss"]),
                      metrics=[metrics.from_config(m) for m in config["metrics"]],
                      device=_device(config["device"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SaveFileError(f"{found!r} has a compile_config that cannot be applied: "
                            f"{type(exc).__name__}: {exc}") from exc
    _restore_optimizer(model, found, data)


def restore_training_state(model, path):
    """Put the weights and optimizer state saved at path back into this built, compiled model
    (BackupAndRestore resuming a fit); nothing changes when the file does not fit the model."""
    found, data = _read(path)
    weights = _weights_for(model, found, data, strict=True)
    model._ensure_optimizer_state()
    before = model.get_weights(), model.optimizer.iterations, model.optimizer.slots
    try:
        _set_weights(model, found, weights)
        _restore_optimizer(model, found, data)
    except BaseException:
        model.set_weights(before[0])
        model.optimizer.iterations, model.optimizer.slots = before[1], before[2]
        raise


def _restore_optimizer(model, found, data):
    """The optimizer's step count and (when saved) state from data."""
    opt = model.optimizer
    iterations = _entry(found, data, "optimizer_iterations")
    if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
        raise SaveFileError(f"{found!r} entry 'optimizer_iterations' should be an integer >= 0. "
                            f"Received: {iterations!r}")
    if "optimizer_slots" in data:
        slots = data["optimizer_slots"]
        expected = (opt.n_slots, model.count_params() if model.built else 0)
        if slots.shape != expected or slots.dtype != np.dtype(model.dtype):
            raise SaveFileError(f"{found!r} entry 'optimizer_slots' does not fit {type(opt).__name__}: expected "
                                f"shape {expected} of {model.dtype}. Received: shape {slots.shape} of {slots.dtype}")
        opt.slots = model._backend.from_host(np.ascontiguousarray(slots))
    opt.iterations = int(iterations)


def _device(saved):
    """The saved device, or "cpu" (with a warning) when a model saved on CUDA is loaded without CUDA."""
    if saved != "cuda":
        return saved
    from .backends.cuda_api import real_gpu, simulated
    if real_gpu() or simulated():
        return saved
    warnings.warn("This model was saved on CUDA, which is not available here; it is loaded on the CPU.",
                  RuntimeWarning, stacklevel=4)
    return "cpu"


def _save_path(path):
    """path as a str, written exactly (no suffix added: a model saved as "m" is the file "m"); a folder is an
    error."""
    path = _as_str(path)
    if os.path.isdir(path):
        raise ValueError(f"Cannot save to {path!r}: it is a folder. Give a file path, e.g. "
                         f"{os.path.join(path, 'model.npz')!r}.")
    return path


def _as_str(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"Expected path to be a str or os.PathLike. Received: path={path!r} "
                        f"of type {type(path).__name__}")
    return os.fsdecode(os.fspath(path))
