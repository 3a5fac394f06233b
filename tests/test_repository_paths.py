"""Nothing the project runs reads a path outside the repository: a bare clone must be whole.

Every text file under src/, tests/, benchmarks/ and deploy/ is checked, but for the copied sample data
(tests/data/, the package's samples/), which is only read. Two ways:
- by text, for names of places outside any checkout: the `shared/` folder that once sat beside it, and
  absolute paths into this machine's workspace or a home folder; in files other than Python, also `../`
  chains that climb out of the repository from the file's folder (SAM's `CodeUri: ../../src` stays inside);
- in Python, by evaluating every path expression anchored at `__file__` (or at the working directory, the
  repository root for make and pytest): `.parent`, `.parents[N]`, `/ "part"`, `joinpath`, `os.path` calls,
  through names bound at module level in the same module or imported from another one of the repository.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "benchmarks", "deploy")
#: Tool output, installed packages and caches: not the project's own files.
SKIPPED_DIRS = {
    "node_modules",
    ".venv",
    "__pycache__",
    "cdk.out",
    "build",
    ".aws-sam",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}
#: Copied sample data: read by the project, never reading anything itself.
DATA_DIRS = (REPO / "tests" / "data", REPO / "src" / "sesflow" / "local" / "samples")
#: This file names the patterns on purpose; its Python paths are still checked.
THIS_FILE = Path(__file__).resolve()

OUTSIDE_NAMES = re.compile(
    r"""\.\./+shared\b"""  # ../shared
    r"""|/\s*["']shared["']"""  # something / "shared"
    r"""|["']shared/"""  # "shared/samples"
    r"""|(?<![\w.])/(?:work|root|home|Users)/"""  # absolute paths into the workspace or a home folder
)
CLIMB = re.compile(r"""(?<![\w.])(?:\.\./)+[\w.\-/]*""")


@dataclass(frozen=True)
class Escape:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.what}"


def scanned_files() -> Iterator[Path]:
    for top in SCANNED:
        for folder, dirs, names in os.walk(REPO / top):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and here / d not in DATA_DIRS)
            yield from (here / name for name in sorted(names))


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # binary: names no path we could check
        return None


def outside(path: PurePosixPath) -> bool:
    return not Path(os.path.normpath(path)).is_relative_to(REPO)


def text_escapes(path: Path, text: str) -> Iterator[Escape]:
    for number, line in enumerate(text.splitlines(), start=1):
        if path != THIS_FILE and (found := OUTSIDE_NAMES.search(line)):
            yield Escape(path, number, f"names a place outside the repository: {found.group()!r}")
        if path.suffix != ".py":
            # Python strings hold hostile file names such as "../../etc/passwd": its paths are checked below.
            for climb in CLIMB.findall(line):
                if outside(PurePosixPath(path.parent) / climb):
                    yield Escape(path, number, f"climbs out of the repository: {climb!r}")


#: A path value while evaluating: where it points, or a string that may become part of a path.
Value = PurePosixPath | str


@dataclass
class ModulePaths:
    """Evaluates the path expressions of one module; `bindings`: its module-level names of known value."""

    path: Path
    bindings: dict[str, Value] = field(default_factory=dict)

    def value(self, node: ast.expr) -> Value | None:
        match node:
            case ast.Constant(value=str() as text):
                return text
            case ast.Name(id="__file__"):
                return PurePosixPath(self.path)
            case ast.Name(id=name):
                return self.bindings.get(name)
            case ast.Attribute(value=inner, attr="parent"):
                base = self.value(inner)
                return base.parent if isinstance(base, PurePosixPath) else None
            case ast.Subscript(
                value=ast.Attribute(value=inner, attr="parents"), slice=ast.Constant(value=int() as n)
            ):
                base = self.value(inner)
                if not isinstance(base, PurePosixPath) or n < 0:
                    return None
                # Past the root, Python raises IndexError: either way it is not a path inside the repository.
                return base.parents[n] if n < len(base.parents) else PurePosixPath("/")
            case ast.BinOp(left=left, op=ast.Div(), right=right):
                base, part = self.value(left), self.value(right)
                return base / part if isinstance(base, PurePosixPath) and isinstance(part, str) else None
            case ast.Call(func=func, args=args):
                return self.call(func, [self.value(arg) for arg in args])
        return None

    def call(self, func: ast.expr, args: list[Value | None]) -> Value | None:
        name = ast.unparse(func)
        first = args[0] if args else None
        if name in {"Path", "pathlib.Path", "PurePath", "PurePosixPath"} and len(args) == 1:
            if isinstance(first, PurePosixPath):
                return first
            # A relative literal is read from the working directory: the repository root for make and pytest.
            if isinstance(first, str) and not first.startswith(("/", "~")):
                return PurePosixPath(REPO) / first
            return None
        if name in {"Path.cwd", "pathlib.Path.cwd", "os.getcwd"}:
            return PurePosixPath(REPO)
        if name in {"os.path.dirname"} and isinstance(first, (PurePosixPath, str)):
            return PurePosixPath(first).parent if isinstance(first, PurePosixPath) else None
        if name in {"os.path.abspath", "os.path.realpath", "os.path.normpath"}:
            return first if isinstance(first, PurePosixPath) else None
        if (
            name == "os.path.join"
            and isinstance(first, PurePosixPath)
            and all(isinstance(a, str) for a in args[1:])
        ):
            return first.joinpath(*(str(a) for a in args[1:]))
        if isinstance(func, ast.Attribute):
            base = self.value(func.value)
            if isinstance(base, PurePosixPath):
                if func.attr in {"resolve", "absolute", "expanduser"} and not args:
                    return base
                if func.attr == "joinpath" and all(isinstance(a, str) for a in args):
                    return base.joinpath(*(str(a) for a in args))
        return None


def module_file(importer: Path, node: ast.ImportFrom) -> Path | None:
    """The repository file an import names, if it is one of ours."""
    parts = (node.module or "").split(".") if node.module else []
    if node.level:
        base = importer.parent
        for _ in range(node.level - 1):
            base = base.parent
    elif parts and parts[0] in {"tests", "benchmarks"}:
        base = REPO
    elif parts and parts[0] == "sesflow":
        base = REPO / "src"
    else:
        return None
    target = base.joinpath(*parts)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class PathChecker:
    def __init__(self) -> None:
        self.modules: dict[Path, ModulePaths] = {}

    def module(self, path: Path, text: str | None = None) -> ModulePaths:
        """A module's path-valued names, following its imports of other repository modules."""
        if path in self.modules:
            return self.modules[path]
        module = self.modules[path] = ModulePaths(path)  # bound first: import cycles end here
        tree = ast.parse(text if text is not None else path.read_text(encoding="utf-8"), filename=str(path))
        for statement in tree.body:
            match statement:
                case ast.ImportFrom() if (source := module_file(path, statement)) is not None:
                    known = self.module(source).bindings
                    for alias in statement.names:
                        if alias.name in known:
                            module.bindings[alias.asname or alias.name] = known[alias.name]
                case (
                    ast.Assign(targets=[ast.Name(id=name)], value=value)
                    | ast.AnnAssign(target=ast.Name(id=name), value=ast.expr() as value)
                ):
                    if (found := module.value(value)) is not None:
                        module.bindings[name] = found
        return module

    def escapes(self, path: Path, text: str) -> Iterator[Escape]:
        module = self.module(path, text)
        tree = ast.parse(text, filename=str(path))
        lines: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr) or node.lineno in lines:
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                continue  # report the expression a name is bound to, where it is written
            found = module.value(node)
            if isinstance(found, PurePosixPath) and outside(found):
                lines.add(node.lineno)
                yield Escape(path, node.lineno, f"{ast.unparse(node)} is {os.path.normpath(found)}")


def repository_escapes() -> list[Escape]:
    checker = PathChecker()
    found: list[Escape] = []
    for path in scanned_files():
        text = read_text(path)
        if text is None:
            continue
        found.extend(text_escapes(path, text))
        if path.suffix == ".py":
            found.extend(checker.escapes(path, text))
    return found


def test_no_file_names_a_path_outside_the_repository() -> None:
    escapes = repository_escapes()
    assert not escapes, "paths outside the repository (copy the data into tests/data/):\n" + "\n".join(
        map(str, escapes)
    )


@pytest.mark.parametrize(
    ("source", "escapes"),
    [
        ('SHARED = Path(__file__).resolve().parents[2].parent / "shared"', True),
        ("CORPUS = Path(__file__).parents[2] / '..' / 'corpus'", True),
        ("REPO = Path(__file__).resolve().parents[2]\nX = REPO.parent", True),
        ("import os\nX = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'x')", True),
        ("X = Path('../elsewhere')", True),
        ("X = Path(__file__).parents[9]", True),
        ("REPO = Path(__file__).resolve().parents[2]\nDATA = REPO / 'tests' / 'data'", False),
        ("from ..conftest import REPO\nX = REPO.parent / 'corpus'", True),
        ("from ..conftest import CORPUS\nX = CORPUS / 'zayo' / 'zayo4.eml'", False),
        ("HOSTILE = '../../../../etc/passwd'", False),
        ("X = Path('/tmp') / 'out'", False),
    ],
)
def test_the_check_sees_an_escape_written_in_a_test_module(source: str, escapes: bool) -> None:
    """The evaluator on a module two folders down (tests/x/), as most test modules are."""
    path = REPO / "tests" / "x" / "test_probe.py"
    assert bool(list(PathChecker().escapes(path, source))) is escapes


@pytest.mark.parametrize(
    ("line", "escapes"),
    [
        ("cp ../shared/samples/x.eml .", True),
        ("CodeUri: ../../src", False),
        ("CodeUri: ../../../src", True),
        ("see /work/shared/corpus", True),
    ],
)
def test_the_check_sees_an_escape_written_in_a_template(line: str, escapes: bool) -> None:
    path = REPO / "deploy" / "sam" / "template.yaml"
    assert bool(list(text_escapes(path, line))) is escapes
