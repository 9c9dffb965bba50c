"""Where networks run: device choice, random-number state across devices, determinism and
mixed precision, in one place for every face of the package.

* :func:`resolve_device`: ``None`` picks as DeepChem does (CUDA, then MPS, then the CPU); under
  ``torchrun`` a CUDA device becomes the local rank's GPU, so ranks never share one.
* :func:`rng_state` / :func:`restore_rng_state`: the CPU and every CUDA generator, stored as CPU
  tensors, so a training state written on a GPU resumes on a CPU and back.
* :func:`enable_determinism`: deterministic algorithms, with the cuBLAS setting CUDA needs.
* :func:`autocast`: bf16/fp16 autocast on any device, or nothing for fp32.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Dict, Iterator, Optional, Union

import torch

DeviceLike = Union[None, str, torch.device]
PRECISIONS = ("fp32", "bf16", "fp16")


def resolve_device(device: DeviceLike = None) -> torch.device:
    """A ``torch.device`` from ``None`` (DeepChem's choice), a string or a device.

    Under ``torchrun`` (``LOCAL_RANK`` set, more than one process) a CUDA device is replaced
    by ``cuda:<LOCAL_RANK>``: each process gets its own GPU whatever index was asked for.

    Parameters
    ----------
    device : None, str or torch.device
        What was asked for.

    Returns
    -------
    torch.device
        The device to use.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    device = torch.device(device)
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return device


def rng_state() -> Dict[str, Any]:
    """Every torch generator this process uses, as CPU tensors: ``{"cpu": ByteTensor,
    "cuda": [ByteTensor per GPU]}`` (the CUDA list is empty where CUDA is unused).

    Returns
    -------
    dict
        ``{"cpu": ByteTensor, "cuda": [ByteTensor, ...]}``, all on the CPU.

    Examples
    --------
    >>> import torch
    >>> state = rng_state()
    >>> first = torch.rand(2)
    >>> restore_rng_state(state)
    >>> torch.equal(torch.rand(2), first)
    True
    """
    cuda = (torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized() else [])
    return {"cpu": torch.get_rng_state(), "cuda": [state.cpu() for state in cuda]}


def restore_rng_state(state: Union[Dict[str, Any], torch.Tensor]) -> None:
    """Restore :func:`rng_state` output (or an older bare CPU state tensor), whatever device
    its tensors were loaded onto. CUDA states are restored for the GPUs present (a state from
    a GPU machine resumes on a CPU-only one with its CPU generator).

    Parameters
    ----------
    state : dict or torch.Tensor
        From :func:`rng_state` (or an older bare CPU state tensor).

    Examples
    --------
    A state of an older version (the CPU generator alone) restores too:

    >>> import torch
    >>> legacy = torch.get_rng_state()
    >>> first = torch.rand(3)
    >>> restore_rng_state(legacy)
    >>> torch.equal(torch.rand(3), first)
    True
    """
    if isinstance(state, torch.Tensor):
        state = {"cpu": state, "cuda": []}
    torch.set_rng_state(state["cpu"].detach().to("cpu", torch.uint8))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        count = min(len(cuda), torch.cuda.device_count())
        for index in range(count):
            torch.cuda.set_rng_state(cuda[index].detach().to("cpu", torch.uint8), index)


def enable_determinism() -> None:
    """Deterministic algorithms for the whole process (``warn_only``: an op with no
    deterministic version warns instead of failing). On CUDA, cuBLAS needs
    ``CUBLAS_WORKSPACE_CONFIG`` before its first use: it is set here if absent, and a warning
    says what to set when CUDA was already initialised without it."""
    if torch.cuda.is_available() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        if torch.cuda.is_initialized():
            warnings.warn("deterministic CUDA runs need CUBLAS_WORKSPACE_CONFIG=:4096:8 set "
                          "before CUDA starts; set it in the environment and run again for "
                          "bitwise-repeatable GPU results", stacklevel=2)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    torch.use_deterministic_algorithms(True, warn_only=True)


def check_precision(precision: Optional[str]) -> str:
    precision = precision or "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


@contextlib.contextmanager
def autocast(device: torch.device, precision: Optional[str]) -> Iterator[None]:
    """Autocast to bf16 or fp16 on ``device`` (fp16 only on CUDA, where it is supported);
    nothing for fp32."""
    precision = check_precision(precision)
    if precision == "fp32":
        yield
        return
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 autocast needs a CUDA device; use bf16 on the CPU")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device.type, dtype=dtype):
        yield
