"""The package's layers (docs/architecture.md): no module imports from a layer below it."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "deepchem_acml"
LAYERS = [
    {"chem", "files", "logs", "provenance", "devices", "checkpoints", "shipped",
     "distributed"},
    {"featurizers"}, {"data"}, {"nn"}, {"modalities"}, {"embedding"},
    {"featurizers.embedding", "trans", "sklearn", "dask_embedding"}, {"models"},
    {"evaluation"}, {"pretraining"},
    {"cli"},
]


def layer_of(module: str) -> int:
    """The layer index of a ``deepchem_acml`` module (-1: the package root)."""
    parts = module.split(".")[1:]
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        for index, members in enumerate(LAYERS):
            if name in members:
                return index
    return -1


def imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("deepchem_acml",) + path.relative_to(PACKAGE).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepchem_acml"):
                yield module, node.module, node.lineno


def test_every_module_belongs_to_a_layer():
    unknown = {m for m, _, _ in imports() if layer_of(m) < 0 and m != "deepchem_acml"}
    assert not unknown, unknown


def test_no_module_imports_from_a_layer_below_it():
    upward = [f"{m} -> {target} (line {line})" for m, target, line in imports()
              if layer_of(target) > layer_of(m) >= 0]
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import():
    assert layer_of("deepchem_acml.models.acml") > layer_of("deepchem_acml.nn.gin")
    assert layer_of("deepchem_acml.featurizers.embedding") > layer_of("deepchem_acml.embedding")
    assert layer_of("deepchem_acml.featurizers.graph") < layer_of("deepchem_acml.embedding")


def code_lines(function: ast.AST) -> int:
    """Lines of a function without its docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                               ast.Constant):
        docstring = body[0].end_lineno - body[0].lineno + 1
    else:
        docstring = 0
    return function.end_lineno - function.lineno + 1 - docstring


def long_functions(limit: int = 60):
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    code_lines(node) > limit:
                yield f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({code_lines(node)})"


def test_no_function_is_longer_than_sixty_lines_of_code():
    assert not list(long_functions()), "\n".join(long_functions())


def test_the_length_check_sees_a_long_function():
    source = "def f():\n    '''doc\n    more'''\n" + "    x = 1\n" * 61
    assert code_lines(ast.parse(source).body[0]) == 62
