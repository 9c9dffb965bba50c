"""The documentation site's promises that a build alone does not check: every public name
has an API entry and a runnable example, and every user-guide page is in the table of
contents. (``make test`` builds the site itself with warnings as errors: broken links,
malformed docstrings and pages missing from the tree fail there.)"""
import re
from pathlib import Path

import pytest

import deepchem_acml

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXTRA_PUBLIC = {"deepchem_acml.nn.gin.GINEncoder", "deepchem_acml.embedding.load_graph_encoder",
                "deepchem_acml.nn.loss", "deepchem_acml.modalities.base.available_modalities"}
GUIDE_TOPICS = ["guide/install", "guide/quickstart", "modalities", "guide/deepchem",
                "guide/sklearn", "guide/finetuning", "sample-report/report", "guide/pretrained",
                "benchmarks/README", "benchmarks/moleculenet", "distributed",
                "guide/troubleshooting"]


def api_entries():
    text = (DOCS / "api.rst").read_text()
    return set(re.findall(r"^\.\. auto(?:class|function|module):: (\S+)", text, re.M))


@pytest.mark.parametrize("name", [n for n in deepchem_acml.__all__ if n != "__version__"])
def test_every_public_name_has_an_api_entry_and_an_example(name):
    assert name in api_entries()
    assert "Examples\n" in (getattr(deepchem_acml, name).__doc__ or ""), name


def test_the_other_public_modules_are_documented():
    assert EXTRA_PUBLIC <= api_entries()


def test_the_user_guide_covers_the_topics():
    index = (DOCS / "index.md").read_text()
    for page in GUIDE_TOPICS:
        assert f"\n{page}\n" in index, page
        assert (DOCS / f"{page}.md").exists(), page


def _resolve(name: str):
    import importlib

    if name in deepchem_acml.__all__:
        return getattr(deepchem_acml, name)
    try:
        return importlib.import_module(name)
    except ImportError:
        module, attribute = name.rsplit(".", 1)
        return getattr(importlib.import_module(module), attribute)


def test_every_api_entry_has_a_runnable_example():
    import inspect

    missing = []
    for name in sorted(api_entries()):
        obj = _resolve(name)
        members = ([m for _, m in inspect.getmembers(obj, inspect.isfunction)
                    if m.__module__ == obj.__name__] if inspect.ismodule(obj) else [obj])
        missing += [f"{name}: {m.__name__}" for m in members if "Examples\n" not in (m.__doc__ or "")]
    assert not missing, missing
