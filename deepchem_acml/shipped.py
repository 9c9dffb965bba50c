"""The ACML models shipped with the package: where they are, how a name or a path becomes a
checkpoint file, and the checkpoint kind they are stored as. Kept free of DeepChem and torch
models, so that the embedding path can find a checkpoint without importing them."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from deepchem_acml.checkpoints import register_checkpoint_kind

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
# The encoder the frozen-embedding faces (ACMLFeaturizer, ACMLEmbedder, ACMLTransformer) use
# by default: of the shipped encoders probed, the one whose frozen linear probes score best on
# MoleculeNet's *validation* splits (mean valid ROC-AUC over six classification tasks: 0.724
# for this checkpoint, 0.728 over three pretraining seeds of its recipe; the other shipped
# single-modality encoders 0.696-0.714; docs/benchmarks/distillation.md).
DEFAULT_ENCODER = "smiles_distilled"
# Every kind of checkpoint file the package writes, with the reader a message names when a
# file of that kind is handed to another reader (registered here, before any model imports).
# (one model class reads both ACML kinds: one modality, several)
ACML_CHECKPOINT_KIND = register_checkpoint_kind("acml_model", "ACMLModel.load")
JOINT_CHECKPOINT_KIND = register_checkpoint_kind(
    "acml_joint_model", "ACMLModel.load (the shipped one: ACMLModel.from_pretrained('joint'))")
TRAINING_STATE_KIND = register_checkpoint_kind(
    "acml_training_state", "ACMLModel.train(checkpoint_path=...), which resumes from it")
SPECTRUM_ENCODER_KIND = register_checkpoint_kind(
    "spectrum_autoencoder", "get_modality(name, checkpoint=path)")


def looks_like_path(name: Union[str, os.PathLike]) -> bool:
    """A file path rather than a shipped model name (names have no folders or suffix)."""
    text = os.fspath(name)
    return os.sep in text or "/" in text or text.endswith((".pt", ".pth", ".ckpt"))


def checkpoint_file(source: Union[str, os.PathLike]) -> Path:
    """The file behind ``source``: an existing file as it is, else a shipped name or a
    path through :func:`pretrained_path` (with its clear errors)."""
    if os.path.isfile(source):
        return Path(source)
    return pretrained_path(os.fspath(source))


def shipped_names() -> list:
    """The names of the ACML models shipped with the package, sorted (what
    :func:`pretrained_path` and every ``pretrained=`` argument accept besides a path).

    Examples
    --------
    >>> DEFAULT_ENCODER in shipped_names() and "nmr_13c" in shipped_names()
    True
    """
    return sorted(p.stem[len("acml_"):] for p in PRETRAINED_DIR.glob("acml_*.pt"))


def pretrained_path(name: str) -> Path:
    """The shipped checkpoint ``acml_<name>.pt``, or ``name`` itself when it is a path to a
    file (clear errors for a missing file and for an unknown name, listing what ships)."""
    if looks_like_path(name):
        if not Path(name).is_file():
            raise FileNotFoundError(f"no checkpoint file at {name}")
        return Path(name)
    path = PRETRAINED_DIR / f"acml_{name}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained ACML model named {name!r}; shipped: "
                                f"{shipped_names()}. "
                                "Pass the path of your own checkpoint instead.")
    return path


def weights_dtype(source: Union[str, os.PathLike]) -> str:
    """The dtype a checkpoint stores its weights in (``"float32"`` or ``"float16"``; the
    standardisers' statistics, kept in float32 either way, do not count), so that a record
    made with a shipped model can name the weights it used.

    Examples
    --------
    >>> weights_dtype("smiles"), weights_dtype("nmr_13c")
    ('float32', 'float16')
    """
    from deepchem_acml.checkpoints import KEPT_IN_FLOAT32, load_checkpoint_file

    state = load_checkpoint_file(checkpoint_file(source))["model_state_dict"]
    dtypes = {str(t.dtype).replace("torch.", "") for name, t in state.items()
              if t.is_floating_point() and not any(kept in name for kept in KEPT_IN_FLOAT32)}
    return "/".join(sorted(dtypes))
