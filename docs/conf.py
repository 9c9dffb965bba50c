"""Sphinx configuration: the documentation site, built by `make test` with warnings as errors.

    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import deepchem_acml  # noqa: E402

project = "deepchem-acml"
author = "deepchem-acml developers"
release = version = deepchem_acml.__version__
copyright = "2026, deepchem-acml developers (MIT licence)"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "sample-report/report.json", "benchmarks/candidates"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"        # numpydoc's Parameters section carries the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# numpydoc's own checks on every documented object: parameters documented and named as in
# the signature, a space before the colon, sections in order.
numpydoc_validation_checks = {"PR01", "PR02", "PR06", "PR10", "GL06", "GL07", "RT01"}
# DeepChem's own signatures (fit, featurize, predict_embedding) are documented by DeepChem;
# dataclasses document their fields as Attributes.
numpydoc_validation_exclude = {r"\.__init__$", r"\._", r"\.__repr__$", r"\.__str__$",
                               r"Model\.fit$", r"\.predict_embedding$",
                               r"ACMLGraphFeaturizer\.featurize$",
                               r"FeaturizationResult$", r"FeaturizationFailure$"}

html_theme = "pydata_sphinx_theme"
html_title = f"deepchem-acml {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []
# No page has children of its own, so the left "Section Navigation" sidebar would be empty on
# every page: leave it out (the top bar lists the pages, the right bar the page's sections).
html_sidebars = {"**": []}
