"""Keras 3's `.keras` archive, for the layers fastnn has: written by `model.save("m.keras")`, read by
`fnn.load_model("m.keras")` (also archives Keras 3 wrote).

The archive is a zip of `metadata.json`, `config.json` (the model as Keras serialises it) and
`model.weights.h5`, where each layer's weights are datasets "0", "1", ... of a group named after the
layer's class in snake case, numbered from the second of a class on ("layers/dense_1/vars/0"), as
Keras names them. The architecture and weights travel; the optimizer does not (a loaded model is
compiled again by its user). Needs h5py: `pip install "fastnn[keras]"`.
"""

import datetime
import io
import json
import os
import re
import tempfile
import zipfile

import numpy as np

from . import layers as layers_mod
from . import regularizers
from ._optional import require

KERAS_VERSION = "3.15.1"  # the version whose format this writes (what metadata.json says)
_NOT_IN_KERAS_CONFIG = ("input_shape",)


def is_archive(path):
    """True when path is a zip holding a Keras model (config.json and model.weights.h5), not an .npz."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {"config.json", "model.weights.h5"} <= names


def save(model, path):
    """Write model as a Keras 3 archive at exactly path, atomically (a temporary file renamed over it)."""
    h5py = _h5py()
    model._require_built("save")  # (Keras saves unbuilt models without weights; fastnn's have none to save)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as store:
        store.create_group("vars")
        _write_weights(store.create_group("layers"), model)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".keras", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(_model_config(model)))
            archive.writestr("model.weights.h5", weights.getvalue())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """The Sequential model of a Keras 3 archive, with its weights; ValueError naming a layer fastnn lacks."""
    h5py = _h5py()
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    model = _model_from(config, path)
    with h5py.File(io.BytesIO(weights), "r") as store:
        found = []
        _read_weights(store.get("layers"), config["config"]["layers"], found, path)
    model.set_weights(found)
    return model


# --- writing ---------------------------------------------------------------------------------
def _model_config(model):
    """Keras's serialisation of a Sequential: an InputLayer, then each layer's class and config."""
    shape = [None] + list(model._input_shape)
    dtype = model.dtype
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                "config": {"batch_shape": shape, "dtype": dtype, "sparse": False, "ragged": False,
                           "name": "input_layer"}}]
    for layer in model.layers:
        if type(layer).__name__ == "Sequential":
            entries.append(_model_config(layer))
            continue
        entries.append({"module": "keras.layers", "class_name": type(layer).__name__, "registered_name": None,
                        "config": {**_layer_config(layer), "name": layer.name, "trainable": layer.trainable,
                                   "dtype": dtype},
                        "build_config": {"input_shape": [None] + list(layer.input_shape)}})
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": model.name, "trainable": model.trainable, "dtype": dtype, "layers": entries},
            "build_config": {"input_shape": shape}}


def _layer_config(layer):
    """The Keras config of one fastnn layer (Keras 3's argument names)."""
    config = {k: v for k, v in layer.get_config().items() if k not in _NOT_IN_KERAS_CONFIG + ("name", "trainable")}
    if isinstance(layer, layers_mod.Flatten):
        return {"data_format": "channels_last"}
    if isinstance(layer, layers_mod.Dense):
        reg = layer.kernel_regularizer  # (every other layer's config already uses Keras's names)
        config["kernel_regularizer"] = None if reg is None else {
            "module": "keras.regularizers", "class_name": "L1L2", "registered_name": None,
            "config": {"l1": reg.l1, "l2": reg.l2}}
    return config


def _write_weights(group, model):
    """Each layer's weights at layers/<class in snake case>[_k]/vars/<i>, Keras's naming."""
    for path, layer in _paths(model.layers):
        variables = group.create_group(path).create_group("vars")
        if type(layer).__name__ == "Sequential":
            _write_weights(group[path].create_group("layers"), layer)
            continue
        for i, w in enumerate(layer.get_weights()):
            variables.create_dataset(str(i), data=w)


def _paths(entries, class_name=lambda e: type(e).__name__):
    """[(group name, entry)]: the snake-case class name, then _1, _2, ... for later ones of a class."""
    used, out = {}, []
    for entry in entries:
        name = _snake(class_name(entry))
        used[name] = used.get(name, -1) + 1
        out.append((name if used[name] == 0 else f"{name}_{used[name]}", entry))
    return out


def _snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# --- reading ---------------------------------------------------------------------------------
def _model_from(entry, path):
    """A fastnn Sequential (built) from Keras's serialised Sequential."""
    from .model import Sequential
    if entry.get("class_name") != "Sequential":
        raise ValueError(f"{path!r} holds a Keras {entry.get('class_name')!r} model; fastnn reads Sequential "
                         "models only.")
    config = entry["config"]
    built, shape = [], None
    for layer in config.get("layers", []):
        if layer.get("class_name") == "InputLayer":
            given = layer["config"]  # (Keras 3 writes batch_shape; older archives batch_input_shape)
            shape = given.get("batch_shape") or given.get("batch_input_shape") or [None] + list(given["input_shape"])
        elif layer.get("class_name") == "Sequential":
            built.append(_model_from(layer, path))
        else:
            built.append(_layer_from(layer, path))
    if shape is None:
        shape = (entry.get("build_config") or {}).get("input_shape") or config.get("build_input_shape")
    model = Sequential(built, name=config.get("name"), dtype=_dtype(config.get("dtype"), path))
    if not model.built:
        if shape is None:
            raise ValueError(f"{path!r} does not say the model's input shape (no InputLayer, no build_config).")
        model.build(shape)
    model.trainable = bool(config.get("trainable", True))
    return model


_READ = {  # Keras class -> (fastnn class, the Keras arguments it takes)
    "Dense": (layers_mod.Dense, ("units", "activation", "use_bias", "kernel_regularizer")),
    "Flatten": (layers_mod.Flatten, ()),
    "Activation": (layers_mod.Activation, ("activation",)),
    "Dropout": (layers_mod.Dropout, ("rate",)),
    "Softmax": (layers_mod.Softmax, ("axis",)),
    "BatchNormalization": (layers_mod.BatchNormalization, ("axis", "momentum", "epsilon", "center", "scale")),
}


def _layer_from(entry, path):
    cls_name, config = entry.get("class_name"), entry.get("config", {})
    if cls_name not in _READ:
        raise ValueError(f"{path!r}: layer {config.get('name')!r} is a Keras {cls_name!r}, which fastnn does not "
                         f"have. fastnn reads {sorted(_READ)} (and InputLayer, Sequential).")
    cls, names = _READ[cls_name]
    kwargs = {k: config[k] for k in names if k in config}
    if isinstance(kwargs.get("activation"), dict):
        raise ValueError(f"{path!r}: layer {config.get('name')!r} has an activation fastnn cannot name: "
                         f"{kwargs['activation']}")
    if kwargs.get("kernel_regularizer") is not None:
        reg = kwargs["kernel_regularizer"]
        values = reg.get("config", {}) if isinstance(reg, dict) else {}
        kwargs["kernel_regularizer"] = regularizers.L1L2(values.get("l1", 0.0), values.get("l2", 0.0))
    if cls_name == "Dense" and config.get("bias_regularizer") is not None:
        raise ValueError(f"{path!r}: layer {config.get('name')!r} has a bias_regularizer, which fastnn lacks.")
    layer = cls(name=config.get("name"), **kwargs)
    layer.trainable = bool(config.get("trainable", True))
    return layer


def _read_weights(group, entries, found, path):
    """Append every layer's weights, in get_weights() order, from the groups Keras named."""
    computing = [e for e in entries if e.get("class_name") != "InputLayer"]
    for name, entry in _paths(computing, class_name=lambda e: e["class_name"]):
        member = None if group is None else group.get(name)
        if entry["class_name"] == "Sequential":
            _read_weights(None if member is None else member.get("layers"), entry["config"]["layers"], found, path)
            continue
        variables = None if member is None else member.get("vars")
        count = 0 if variables is None else len(variables)
        found.extend(np.asarray(variables[str(i)]) for i in range(count))


def _dtype(value, path):
    name = value.get("config", {}).get("name") if isinstance(value, dict) else value
    if name in (None, "float32", "float64"):
        return name
    raise ValueError(f"{path!r}: the model computes in {name!r}; fastnn computes in float32 or float64.")


def _h5py():
    return require("h5py", "keras", "Reading and writing .keras archives")
