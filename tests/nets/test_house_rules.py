"""nets/ must never import Qt or pyqtgraph: the science runs headless. And it runs on every
Keras backend: only nets/backend.py may import TensorFlow, JAX or PyTorch."""
import ast
import subprocess
import sys
from pathlib import Path

NETS = Path(__file__).resolve().parents[2] / "nets"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "superqt", "shiboken6")


def imports_of(path: Path) -> list[str]:
    """Every module a file imports, anywhere in it (inside functions too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_module_under_nets_imports_qt():
    offenders = [f"{path.name}: {n}" for path in NETS.rglob("*.py")
                 for n in imports_of(path) if n.split(".")[0] in FORBIDDEN]
    assert not offenders
    assert len(list(NETS.rglob("*.py"))) >= 6  # the scan really looked at the package


def test_importing_every_nets_module_loads_no_qt():
    modules = [".".join(p.relative_to(NETS.parent).with_suffix("").parts)
               for p in NETS.rglob("*.py") if p.stem != "__init__"]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=NETS.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


BACKENDS = ("tensorflow", "jax", "jaxlib", "torch")


def test_only_the_backend_module_imports_a_backend():
    offenders = [f"{path.relative_to(NETS)}: {n}" for path in NETS.rglob("*.py")
                 if path != NETS / "backend.py"
                 for n in imports_of(path) if n.split(".")[0] in BACKENDS]
    assert not offenders, "use keras.ops, or add what differs to nets/backend.py"
