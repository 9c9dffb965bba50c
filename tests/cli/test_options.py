"""`acml`'s options as a user reads and types them: a help line and a default for every
option, choices read from the library (a modality registered at run time included), one
spelling per concept with the old ones still working, docs/cli.md generated from the parsers."""
import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deepchem_acml.cli.docs import command_parsers, render_page
from deepchem_acml.cli.main import build_parser, main
from deepchem_acml.cli.options import HelpFormatter, takes_value

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["demo", "pretrain", "pretrain-encoder", "embed", "embed-dask", "evaluate"]


def _actions(parser):
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)
            and a.help is not argparse.SUPPRESS]


def _action(command, option):
    parser = command_parsers(build_parser())[command]
    return next(a for a in parser._actions if option in a.option_strings)


def test_the_commands_are_all_walked():
    assert list(command_parsers(build_parser())) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_a_help_line_that_names_its_default(command):
    parser = command_parsers(build_parser())[command]
    formatter = HelpFormatter(parser.prog)
    for action in _actions(parser):
        text = formatter._expand_help(action)
        assert text.strip(), f"acml {command} {action.option_strings}: no help"
        if takes_value(action) and not action.required:
            assert "(default: " in text, f"acml {command} {action.option_strings[0]}: {text!r}"
            assert "(default: None)" not in text, action.option_strings[0]


def test_help_shows_the_defaults_a_user_would_otherwise_not_know():
    completed = subprocess.run([sys.executable, "-m", "deepchem_acml.cli.main", "pretrain",
                                "--help"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    text = " ".join(completed.stdout.split())
    assert "passes over the training data (default: 100)" in text
    assert "Adam learning rate (default: 0.001)" in text
    assert "examples: acml pretrain --modality nmr_13c" in text
    assert "No normalization" not in completed.stderr  # DeepChem's import noise held back


def test_building_the_parser_imports_neither_torch_nor_deepchem():
    code = ("import sys; from deepchem_acml.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'deepchem', 'rdkit', 'pandas') "
            "if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=300)
    assert completed.stdout.strip() == "[]", completed.stderr


@pytest.mark.parametrize("command, option, module, constant", [
    ("pretrain", "--norm", "deepchem_acml.nn.gin", "NORMS"),
    ("pretrain", "--backend", "deepchem_acml.nn.gin", "BACKENDS"),
    ("pretrain", "--atom-features", "deepchem_acml.featurizers.molecular_graph",
     "ATOM_FEATURES"),
    ("pretrain", "--batching", "deepchem_acml.models.acml", "BATCHINGS"),
    ("pretrain", "--precision", "deepchem_acml.models.acml", "PRECISIONS"),
    ("demo", "--norm", "deepchem_acml.nn.gin", "NORMS"),
    ("embed", "--precision", "deepchem_acml.devices", "PRECISIONS"),
    ("evaluate", "--map-property", "deepchem_acml.evaluation.properties", "PROPERTIES"),
    ("pretrain-encoder", "--encoder", "deepchem_acml.modalities.spectra",
     "SHIPPED_ENCODER_KINDS"),
])
def test_choices_are_the_librarys_own(command, option, module, constant, monkeypatch):
    import importlib

    library = importlib.import_module(module)
    assert list(_action(command, option).choices) == list(getattr(library, constant))
    # read when the value is checked: what the library accepts tomorrow, the option accepts
    if isinstance(getattr(library, constant), tuple):
        monkeypatch.setattr(library, constant, (*getattr(library, constant), "newcomer"))
        argv = {"pretrain": ["--out", "x"], "demo": [], "embed": ["in.csv", "--out", "x"],
                "evaluate": ["--pretrained", "nmr_13c"]}[command]
        args = build_parser().parse_args([command, *argv, option, "newcomer"])
        assert getattr(args, _action(command, option).dest) == "newcomer"


def test_the_default_frozen_encoder_is_the_librarys():
    from deepchem_acml.shipped import DEFAULT_ENCODER

    for command in ("embed", "embed-dask"):
        assert _action(command, "--pretrained").default == DEFAULT_ENCODER


@pytest.fixture
def registry():
    """The modality registry, restored after the test (it is process-wide)."""
    from deepchem_acml.modalities import base

    before = dict(base._REGISTRY)
    yield base
    base._REGISTRY.clear()
    base._REGISTRY.update(before)


def _renamed_13c(name):
    def factory(**options):
        from deepchem_acml.modalities import get_modality

        modality = get_modality("nmr_13c", **options)
        modality.name = name
        return modality
    return factory


def test_a_modality_registered_at_run_time_is_accepted(registry, tmp_path, capsys):
    argv = ["pretrain", "--modality", "my_13c", "--out", str(tmp_path)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert "no modality named 'my_13c'" in err and "acml --plugin MODULE" in err
    parser = build_parser()  # built before the registration: its choices are not frozen
    registry.register_modality("my_13c", _renamed_13c("my_13c"))
    assert parser.parse_args(argv).modality == ["my_13c"]
    help_text = command_parsers(parser)["pretrain"].format_help()
    assert "ms_lc, my_13c, nmr_13c" in " ".join(help_text.split())  # and listed in the help


def test_plugin_registers_a_modality_that_pretrain_trains_on(registry, tmp_path, capsys,
                                                             monkeypatch, nmr_frame):
    (tmp_path / "acml_test_plugin.py").write_text(
        "from deepchem_acml import get_modality, register_modality\n\n\n"
        "def factory(**options):\n"
        "    modality = get_modality('nmr_13c', **options)\n"
        "    modality.name = 'plugin_13c'\n"
        "    return modality\n\n\n"
        "register_modality('plugin_13c', factory)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "acml_test_plugin", raising=False)
    data = tmp_path / "pairs.csv"
    nmr_frame.iloc[:120][["smiles", "spectrum"]].to_csv(data, index=False)
    out = tmp_path / "run"
    code = main(["--plugin", "acml_test_plugin", "pretrain", "--modality", "plugin_13c",
                 "--data", str(data), "--out", str(out), "--epochs", "1", "--hidden-dim", "16",
                 "--projection-dim", "16", "--batch-size", "32", "--checkpoint-every", "0"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "acml_plugin_13c.pt").is_file()
    assert "plugin_13c: retrieval on the held-out test split" in captured.out


def test_a_plugin_that_cannot_be_imported_is_named(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--plugin", "no_such_acml_plugin", "embed", "x.csv",
                                   "--out", "y.npy"])
    assert exit_.value.code == 2
    assert "--plugin no_such_acml_plugin: cannot import it" in capsys.readouterr().err


@pytest.mark.parametrize("command, old, new, value, dest", [
    (["evaluate"], "--checkpoint", "--pretrained", "nmr_13c", "pretrained"),
    (["pretrain-encoder", "--out", "x.pt"], "--hidden-size", "--hidden-dim", "64", "hidden_dim"),
    (["pretrain", "--modality", "smiles", "--out", "x"], "--smiles-encoder", "--encoder",
     "roberta", "encoder"),
    (["pretrain", "--modality", "ms_lc", "--out", "x"], "--ms-encoder", "--encoder",
     "contrastive", "encoder"),
])
def test_old_spellings_still_work_and_warn(command, old, new, value, dest, capsys):
    expected = int(value) if value.isdigit() else value
    args = build_parser().parse_args([*command, new, value])
    assert getattr(args, dest) == expected and capsys.readouterr().err == ""
    args = build_parser().parse_args([*command, old, value])
    assert getattr(args, dest) == expected
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1
    assert f"{old} is deprecated and will be removed in the next release; use {new}" in warning
    parser = command_parsers(build_parser())[command[0]]
    assert old not in parser.format_help() and new in parser.format_help()


def test_one_spelling_per_concept_across_commands():
    spellings = {s for p in command_parsers(build_parser()).values() for a in _actions(p)
                 for s in a.option_strings if s not in getattr(a, "old", ())}
    for gone in ("--checkpoint", "--hidden-size", "--smiles-encoder", "--ms-encoder"):
        assert gone not in spellings  # (deprecated aliases only, see the test above)
    for command in ("embed", "embed-dask", "evaluate"):
        assert "--pretrained" in _action(command, "--pretrained").option_strings


def test_the_encoder_is_checked_against_the_modality(tmp_path):
    from deepchem_acml.cli.pretrain import encoder_options

    parser = build_parser()
    args = parser.parse_args(["pretrain", "--modality", "nmr_13c", "--encoder", "roberta",
                              "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="not a frozen encoder of nmr_13c"):
        encoder_options(args, args.modality)
    args = parser.parse_args(["pretrain", "--modality", "smiles", "nmr_13c", "--encoder",
                              "roberta", "--out", str(tmp_path)])
    assert encoder_options(args, args.modality) == {"encoder": "roberta"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_example_is_a_valid_command_line(command):
    parser = command_parsers(build_parser())[command]
    assert parser.examples
    for example in parser.examples:
        words = shlex.split(example)
        assert words[:2] == ["acml", command]
        build_parser().parse_args(words[1:])  # exits on an option that no longer exists


def test_docs_cli_md_is_what_the_parsers_generate():
    completed = subprocess.run([sys.executable, "-m", "deepchem_acml.cli.docs", "--check",
                                str(ROOT / "docs" / "cli.md")], capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr


def test_a_changed_option_makes_docs_cli_md_stale():
    page = (ROOT / "docs" / "cli.md").read_text()
    parser = build_parser()
    command_parsers(parser)["embed"].add_argument("--new-option", default=3, help="new")
    rendered = render_page(page, parser)
    assert rendered != page and "| `--new-option NEW_OPTION` | `3` | new |" in rendered
    assert "## `acml pretrain` and `acml demo`: outputs" in rendered  # the prose is kept
