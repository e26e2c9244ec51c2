"""Commit the plain editions (``_build/notebooks``) to the branch the Colab buttons open.

The editions' Colab cell installs the library at the commit they were built from, so they are
published only from a clean working tree whose commit the remote already has (``--force``
skips the second check, for a first publication). The branch (``editions_branch`` in
``_config.yml``) holds nothing but the editions, in the same folders as the sources; this script
commits to it locally, through a temporary worktree, and prints the ``git push`` to run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path = ROOT, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def editions_branch() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["sphinx"]["config"]["editions_branch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editions", type=Path, default=ROOT / "_build/notebooks")
    parser.add_argument("--force", action="store_true", help="publish a commit not yet pushed")
    args = parser.parse_args()
    if not args.editions.is_dir():
        raise SystemExit(f"{args.editions} is missing: run `make notebooks` first")
    if git("status", "--porcelain", "--untracked-files=no"):
        raise SystemExit("the working tree has changes: commit them, then build the editions")
    head = git("rev-parse", "HEAD")
    if not args.force and not git("branch", "-r", "--contains", head):
        raise SystemExit(f"{head[:12]} is on no remote branch: push it first (or --force)")
    branch = editions_branch()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "editions"
        if git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False):
            git("worktree", "add", str(tree), branch)
        else:
            git("worktree", "add", "--detach", str(tree))
            git("checkout", "--orphan", branch, cwd=tree)
        try:
            git("rm", "-rqf", "--ignore-unmatch", ".", cwd=tree)
            shutil.copytree(args.editions, tree, dirs_exist_ok=True)
            git("add", "-A", cwd=tree)
            if git("status", "--porcelain", cwd=tree):
                git("commit", "-qm", f"Plain editions built from {head}", cwd=tree)
                print(f"committed the editions of {head[:12]} to {branch}")
            else:
                print(f"{branch} already holds these editions")
        finally:
            git("worktree", "remove", "--force", str(tree))
    print(f"publish them with: git push origin {branch}")


if __name__ == "__main__":
    main()
