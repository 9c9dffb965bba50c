"""Where a result came from: the command that made it and the versions it ran with."""
from __future__ import annotations

import shlex
import sys
from typing import Dict, List, Optional


def command_line(program: str = "acml", argv: Optional[List[str]] = None) -> str:
    """The command that is running, quoted so that it can be pasted back into a shell."""
    arguments = sys.argv[1:] if argv is None else argv
    return " ".join([program] + [shlex.quote(a) for a in arguments])


def package_versions(extra: Optional[List[str]] = None) -> Dict[str, str]:
    """Versions of the packages a result depends on (and of ``extra`` ones where
    installed), for metrics, records and checkpoints."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in ["deepchem-acml", "deepchem", "torch", "rdkit", "numpy", "scikit-learn",
                 *(extra or [])]:
        try:
            versions[name.replace("-", "_") if name == "deepchem-acml" else name] = \
                metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
