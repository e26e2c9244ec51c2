"""Plant one catalogued bug in the running interpreter, or watch which targets are called.

A bug is a textual change of one library function: ``find`` must occur in the function's
source exactly ``count`` times (default 1) and is replaced by ``replace``; the changed source is
compiled in the function's own module and put wherever the original was bound (the module,
a class, and every ``llmtheory`` module that imported it by name). A target that no longer exists,
or whose source no longer contains ``find``, raises :class:`MutantError`: a refactoring makes a
bug fail loudly, never pass silently.

Used three ways: ``python -m pytest -p mutants_plugin`` with ``LLMTHEORY_MUTANT=<id>`` (the unit
tests), a first cell injected into a chapter (``scripts/run_mutants.py``), and
``tests/test_mutants.py`` (every bug still applies).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import sys
import textwrap
from pathlib import Path
from types import FunctionType, ModuleType

import tomllib

CATALOGUE = Path(__file__).resolve().parent / "catalogue"
REACHED: set[str] = set()  # targets called since install(), in this process
KINDS = (
    "sign",
    "off-by-one",
    "normalisation",
    "transposition",
    "swapped arguments",
    "test leak",
    "wrong default",
    "coarse grid",
    "wrong baseline",
    "asymmetric data",
    "wrong constant",
    "wrong formula",
    "wrong index",
    "missing term",
    "wrong reduction",
)
FIELDS = {"id", "target", "kind", "description", "find", "replace", "count", "equivalent"}


class MutantError(RuntimeError):
    """A catalogued bug that cannot be planted (its target or its text is gone)."""


def load_catalogue(folder: Path = CATALOGUE) -> dict[str, dict]:
    """Every bug of every ``*.toml`` file in ``folder``, by id; ``home`` is the file's stem."""
    bugs: dict[str, dict] = {}
    for path in sorted(folder.glob("*.toml")):
        for bug in tomllib.loads(path.read_text())["bug"]:
            unknown = set(bug) - FIELDS
            if unknown:
                raise MutantError(f"{path.name}: {bug.get('id')}: unknown fields {unknown}")
            if bug["id"] in bugs:
                raise MutantError(f"{path.name}: duplicate bug id {bug['id']}")
            if bug["kind"] not in KINDS:
                raise MutantError(f"{bug['id']}: kind {bug['kind']!r} is not one of {KINDS}")
            bugs[bug["id"]] = {"count": 1, **bug, "home": path.stem}
    return bugs


def resolve(target: str) -> tuple[ModuleType, object, str, FunctionType]:
    """``"llmtheory.mod:Class.method"`` as (module, owner, attribute, plain function)."""
    module_name, _, qualname = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        *path, attr = qualname.split(".")
        owner: object = module
        for part in path:
            owner = getattr(owner, part)
        raw = inspect.getattr_static(owner, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise MutantError(f"target {target} does not exist: {exc}") from exc
    func = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
    func = inspect.unwrap(func)
    if not isinstance(func, FunctionType):
        raise MutantError(f"target {target} is not a function, got {type(raw).__name__}")
    return module, owner, attr, func


def mutated_source(bug: dict) -> str:
    """The target's source with the bug planted; raises :class:`MutantError` if it cannot be."""
    *_, func = resolve(bug["target"])
    source = textwrap.dedent(inspect.getsource(func))
    found = source.count(bug["find"])
    if found != bug["count"]:
        raise MutantError(
            f"bug {bug['id']}: {bug['find']!r} occurs {found} times in {bug['target']}, "
            f"expected {bug['count']}: update the catalogue"
        )
    return source.replace(bug["find"], bug["replace"])


def _rebind(module: ModuleType, owner: object, attr: str, old: object, new: object) -> None:
    """Put ``new`` wherever ``old`` is bound: ``owner.attr`` and any llmtheory module global."""
    raw = inspect.getattr_static(owner, attr)
    if isinstance(raw, (staticmethod, classmethod)):
        new = type(raw)(new)
    setattr(owner, attr, new)
    if owner is module:
        for name, other in list(sys.modules.items()):
            if name.split(".")[0] == "llmtheory" and other is not None:
                for key, value in list(vars(other).items()):
                    if value is old:
                        setattr(other, key, new)


def _watched(target: str, func: FunctionType) -> FunctionType:
    @functools.wraps(func)
    def watched(*args, **kwargs):
        REACHED.add(target)
        return func(*args, **kwargs)

    return watched


def plant(bug: dict) -> None:
    """Replace the bug's target by its mutated version (watched), in this interpreter."""
    module, owner, attr, func = resolve(bug["target"])
    namespace: dict[str, object] = {}
    code = compile(mutated_source(bug), f"<bug {bug['id']}>", "exec")
    exec(code, vars(module), namespace)  # noqa: S102 - the catalogue's own text, by design
    new = namespace[func.__name__]
    if isinstance(new, (staticmethod, classmethod)):
        new = new.__func__
    bound = inspect.getattr_static(owner, attr)
    old = bound.__func__ if isinstance(bound, (staticmethod, classmethod)) else bound
    _rebind(module, owner, attr, old, _watched(bug["target"], new))


def watch(targets: list[str]) -> None:
    """Record calls of ``targets`` (unchanged) in :data:`REACHED`."""
    for target in targets:
        module, owner, attr, _ = resolve(target)
        bound = inspect.getattr_static(owner, attr)
        old = bound.__func__ if isinstance(bound, (staticmethod, classmethod)) else bound
        _rebind(module, owner, attr, old, _watched(target, old))


def install(bug_id: str | None) -> None:
    """Plant ``bug_id`` (or, with ``None``, watch every catalogued target)."""
    bugs = load_catalogue()
    if bug_id is None:
        watch(sorted({bug["target"] for bug in bugs.values()}))
    else:
        plant(bugs[bug_id])


def report() -> None:
    """Print the targets reached, as the last line of a chapter run."""
    print("MUTANT-REACHED " + json.dumps(sorted(REACHED)))
