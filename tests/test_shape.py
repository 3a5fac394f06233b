"""The code's shape, held: no function in `src/` or the CDK app longer than a reader can take in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 50


def python_files() -> list[Path]:
    files = sorted((ROOT / "src" / "sesflow").rglob("*.py"))
    files += sorted((ROOT / "deploy" / "cdk").glob("*.py"))
    files += sorted((ROOT / "deploy" / "cdk" / "relay_parts").glob("*.py"))
    return files


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_LINES:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_fifty_lines() -> None:
    too_long = [entry for path in python_files() for entry in long_functions(path)]
    assert not too_long, "split these into named steps:\n" + "\n".join(too_long)


def test_the_check_sees_a_long_function_and_counts_its_decorators(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_LINES - 1))
    sample = tmp_path / "sample.py"
    sample.write_text(
        f"def short():\n    return 1\n\n\n@cache\ndef long():\n{body}\n\n\ndef fits():\n{body}\n",
        encoding="utf-8",
    )
    # `long` is 51 lines with its decorator, `fits` 50 without one.
    assert long_functions(sample, root=tmp_path) == [f"sample.py:6 long ({MAX_LINES + 1} lines)"]
