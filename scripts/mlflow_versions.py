"""runql's ``mlflow-X.Y`` profiles checked against the parser of each MLflow version they describe.

For each MLflow version, ``mlflow-skinny==X`` is installed into a cached folder of its own (no
dependencies: sqlparse, protobuf and the rest come from this environment), and a subprocess with that
folder first on ``sys.path`` decides accept or refuse for every text as
:func:`runql.testing.mlflow_oracle.mlflow_accepts` does: parse, then each clause and sort key tried on
a dummy row, since MLflow checks comparators only when it evaluates. The texts are the filters and
order_by of the conformance corpora and of tests/profiles/test_mlflow_profile.py.

    python scripts/mlflow_versions.py               # the versions that have a profile, and the latest
    python scripts/mlflow_versions.py --all         # the last patch of every minor version from 2.0
    python scripts/mlflow_versions.py 2.4.2 3.5.1   # the versions named
    python scripts/mlflow_versions.py --all --discover   # which texts changed between adjacent versions
    python scripts/mlflow_versions.py --all --record     # write tests/conformance/mlflow_versions.json

A version is compared with the profile :func:`runql.profiles.catalog.mlflow_profile_for` gives it: its
own ``mlflow-X.Y``, else the nearest newer versioned profile, else ``mlflow``. The exit status is 1 when
a version disagrees with its profile on some text.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from runql.profiles.catalog import MLFLOW_VERSION_PROFILES, mlflow_profile_for
from runql.testing.differential import runql_accepts

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "tests" / "conformance"
RECORD = CONFORMANCE / "mlflow_versions.json"
CACHE = Path(os.environ.get("RUNQL_MLFLOW_CACHE", Path.home() / ".cache" / "runql-mlflow-versions"))

# The last patch release of every minor version from 2.0, the oldest runql describes, to 3.18.
ALL_VERSIONS = (
    "2.0.1", "2.1.1", "2.2.2", "2.3.2", "2.4.2", "2.5.0", "2.6.0", "2.7.1", "2.8.1", "2.9.2", "2.10.2",
    "2.11.5", "2.12.2", "2.13.3", "2.14.3", "2.15.1", "2.16.2", "2.17.2", "2.18.0", "2.19.0", "2.20.4",
    "2.21.3", "2.22.5", "3.0.1", "3.1.4", "3.2.0", "3.3.2", "3.4.0", "3.5.1", "3.6.0", "3.7.0", "3.8.1",
    "3.9.0", "3.10.1", "3.11.1", "3.12.0", "3.13.0", "3.14.0", "3.15.2", "3.16.1", "3.17.2", "3.18.0",
)  # fmt: skip

# The syntax differences docs/compatibility.md (## Syntax) keeps in every version; these three are the
# parser's alone and validation closes them again (as in tests/profiles/test_mlflow_profile.py).
CLOSED_BY_VALIDATION = ("typed-later", "superset", "comparators")

# The packages whose version the version's own requirement decides even when this environment has one:
# the protobuf code MLflow generated runs on the protobuf it names (before 3.11 an older one than here;
# MLflow 2.0's imports google.protobuf.service, gone since). Others come from here, so that they fit
# together (an older starlette would break the fastapi installed here).
KEEP_VERSION = ("protobuf",)

Case = tuple[str, str, tuple[str, ...]]
"""(entity, filter_string, order_by)."""

# Runs in the subprocess, with the version's folder first on sys.path: reads the cases as JSON on
# stdin, writes one accept (true) or refuse (false) per case. Only names every version from 2.0 has.
WORKER = r"""
import inspect, json, logging, sys, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
import mlflow.entities as e
from mlflow.utils import search_utils

def call(factory, **fields):
    known = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in fields.items() if k in known})

info = call(e.RunInfo, run_uuid="r", run_id="r", experiment_id="0", user_id="u", status="FINISHED",
            start_time=1, end_time=2, lifecycle_stage="active", artifact_uri="file:///a", run_name="n")
data = e.RunData(metrics=[e.Metric("m", 0.5, 1, 0)], params=[e.Param("p", "v")], tags=[e.RunTag("t", "v")])
inputs = None
if hasattr(e, "RunInputs"):  # datasets came in 2.4
    context = e.InputTag("mlflow.data.context", "training")
    inputs = e.RunInputs([e.DatasetInput(e.Dataset("d", "g", "local", "s"), [context])])
run = call(e.Run, run_info=info, run_data=data, run_inputs=inputs)
experiment = call(e.Experiment, experiment_id="0", name="e", artifact_location="file:///a",
                  lifecycle_stage="active", tags=[e.ExperimentTag("t", "v")], creation_time=1,
                  last_update_time=2)

def accepts(entity, filter_string, order_by):
    try:
        if entity == "runs":
            utils = search_utils.SearchUtils
            for clause in utils.parse_search_filter(filter_string):
                utils._does_run_match_clause(run, clause)
            utils.sort([run], order_by)
        else:
            utils = search_utils.SearchExperimentsUtils
            for clause in utils.parse_search_filter(filter_string):
                utils._does_experiment_match_clause(experiment, clause)
            utils.sort([experiment], order_by)
    except Exception:
        return False
    return True

json.dump([accepts(*case) for case in json.load(sys.stdin)], sys.stdout)
"""


# -- the texts ----------------------------------------------------------------------------------------


def _corpus(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))["cases"]
    return cases


def _clauses(order_by: str | list[str]) -> tuple[str, ...]:
    return (order_by,) if isinstance(order_by, str) else tuple(order_by)


def _test_lists() -> list[Case]:
    path = ROOT / "tests" / "profiles" / "test_mlflow_profile.py"
    spec = importlib.util.spec_from_file_location("test_mlflow_profile", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases: list[Case] = [("runs", f, ()) for f in module.RUN_FILTERS]
    cases += [("experiments", f, ()) for f in module.EXPERIMENT_FILTERS]
    cases += [("runs", "", (o,)) for o in module.RUN_ORDER_BY]
    cases += [("experiments", "", (o,)) for o in module.EXPERIMENT_ORDER_BY]
    return cases


# Texts on the edges the versions moved, beyond the corpora: how MLflow before 3.0 reads lists, whole
# numbers on times, the aliases in order_by.
PROBES: list[Case] = [
    ("runs", "run_id IN ('a' , 'b')", ()),
    ("runs", "run_id IN ('a', 'b' )", ()),
    ("runs", "run_id IN ('a', 'b', )", ()),
    ("runs", "run_id IN ('a', 'b' 'c')", ()),
    ("runs", "run_id IN ( 'a')", ()),
    ("runs", "run_id IN ('a' )", ()),
    ("runs", "run_id IN ( 'a', 'b')", ()),
    ("runs", "run_id IN ('a'\n, 'b')", ()),
    ("runs", 'run_id IN ("a")', ()),
    ("runs", "datasets.name IN ('a',)", ()),
    ("runs", "datasets.digest IN ('a', 'b' )", ()),
    ("runs", "start_time > 1e3", ()),
    ("runs", "end_time != -5", ()),
    ("experiments", "creation_time > 1.5", ()),
    ("experiments", "last_update_time < 2e3", ()),
    ("experiments", "experiment_id IN ('a',)", ()),
    ("experiments", "experiment_id LIKE '1%'", ()),
    ("runs", "", ("`run name`",)),
    ("runs", "", ("created", "run_name DESC")),
]


def cases() -> list[Case]:
    """Every text, once: the corpora (less the syntax differences validation does not close), the lists
    of tests/profiles/test_mlflow_profile.py and PROBES."""
    found: list[Case] = []
    for case in _corpus("filters.json") + _corpus("order_by.json"):
        if case.get("diff", CLOSED_BY_VALIDATION[0]) not in CLOSED_BY_VALIDATION:
            continue
        if "filter" in case:
            found.append(("runs", case["filter"], ()))
        else:
            found.append(("runs", "", _clauses(case["order_by"])))
    for case in _corpus("profiles.json"):
        if "filter" in case or "order_by" in case:
            found.append((case["entity"], case.get("filter", ""), _clauses(case.get("order_by", []))))
    return list(dict.fromkeys(found + _test_lists() + PROBES))


# -- MLflow's answers ---------------------------------------------------------------------------------


def install(version: str) -> Path:
    """The folder holding ``mlflow-skinny==version``, installed on first use."""
    folder = CACHE / f"mlflow-{version}"
    if not folder.exists():
        partial = CACHE / f"mlflow-{version}.partial"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        subprocess.run([*pip, "--target", str(partial), f"mlflow-skinny=={version}"], check=True)
        pinned = _unmet(partial / f"mlflow_skinny-{version}.dist-info" / "METADATA")
        if pinned:
            subprocess.run([*pip, "--target", str(partial), *pinned], check=True)
        partial.rename(folder)  # only a complete install is kept
    return folder


def _unmet(metadata: Path) -> list[str]:
    """The version's requirements that the packages installed here do not meet: a package missing here
    (``entrypoints`` for MLflow 2.0), or one of KEEP_VERSION in a version it excludes."""
    unmet = []
    for line in metadata.read_text(encoding="utf-8").splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            installed = metadata_version(requirement.name)
        except PackageNotFoundError:
            unmet.append(str(requirement))
            continue
        if requirement.name in KEEP_VERSION and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            unmet.append(str(requirement))
    return unmet


def mlflow_answers(version: str, texts: list[Case]) -> list[bool]:
    """Whether MLflow ``version`` accepts each text."""
    # Old generated protobuf code needs the pure Python implementation of the protobuf installed here.
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(install(version))],
        input=json.dumps([[e, f, list(o)] for e, f, o in texts]),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"MLflow {version} could not answer:\n{done.stderr}")
    answers: list[bool] = json.loads(done.stdout)
    return answers


def describe(case: Case) -> str:
    """One text as a line: entity, then the filter or the order_by."""
    entity, filter_string, order_by = case
    return f"{entity}: " + (f"order_by {list(order_by)!r}" if order_by else repr(filter_string))


# -- the modes ----------------------------------------------------------------------------------------


def compare(versions: list[str], texts: list[Case]) -> int:
    """The table of agreement between each version and its profile; 1 when any text disagrees."""
    print("| MLflow | profile | texts | agreed |")
    print("|---|---|---:|---:|")
    disagreements: list[str] = []
    for version in versions:
        answers = mlflow_answers(version, texts)
        name = mlflow_profile_for(version).name
        wrong = [
            case
            for case, theirs in zip(texts, answers, strict=True)
            if runql_accepts(*case, profile=name) != theirs
        ]
        print(f"| {version} | `{name}` | {len(texts)} | {len(texts) - len(wrong)} |")
        for case, theirs in zip(texts, answers, strict=True):
            if case in wrong:
                verdict = "accepts" if theirs else "refuses"
                disagreements.append(f"{version} {verdict}, {name} does not: {describe(case)}")
    print("\n".join(["", *disagreements]) if disagreements else "\nevery version agrees with its profile")
    return 1 if disagreements else 0


def discover(versions: list[str], texts: list[Case]) -> int:
    """Print, for each pair of adjacent versions, the texts whose accept or refuse changed."""
    previous: tuple[str, list[bool]] | None = None
    for version in versions:
        answers = mlflow_answers(version, texts)
        if previous is not None:
            older, before = previous
            changed = [(c, a) for c, b, a in zip(texts, before, answers, strict=True) if a != b]
            print(f"{older} -> {version}: {len(changed)} changed")
            for case, now in changed:
                print(f"  {'now accepts' if now else 'now refuses'} {describe(case)}")
        previous = (version, answers)
    return 0


def record(versions: list[str], texts: list[Case]) -> int:
    """Write every version's answers to tests/conformance/mlflow_versions.json."""
    answers = {version: mlflow_answers(version, texts) for version in versions}
    lines = []
    for index, (entity, filter_string, order_by) in enumerate(texts):
        case: dict[str, Any] = {"name": f"version-{index + 1:03d}", "entity": entity}
        case |= {"filter": filter_string} if filter_string or not order_by else {}
        case |= {"order_by": list(order_by)} if order_by else {}
        case["expect"] = {"accepted_by": _ranges([answers[v][index] for v in versions], versions)}
        lines.append(json.dumps(case))
    head = {
        "description": "What each MLflow version accepts (schema: README.md), written by "
        "scripts/mlflow_versions.py --record from each version's own parser: parse, then each clause and "
        "sort key on a dummy row. expect.accepted_by lists the versions that accept the text as ranges of "
        "versions: 'A-B' is every version of versions from A to B, 'A' is A alone; every other version "
        "refuses it.",
        "versions": versions,
    }
    text = json.dumps(head, indent=1)[:-2] + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
    RECORD.write_text(text, encoding="utf-8")
    print(f"wrote {len(texts)} texts for {len(versions)} versions to {RECORD.relative_to(ROOT)}")
    return 0


def _ranges(accepted: list[bool], versions: list[str]) -> list[str]:
    """The runs of consecutive versions that accept, as 'first-last' (or 'first' for one)."""
    found: list[str] = []
    start = None
    for index, yes in enumerate([*accepted, False]):
        if yes and start is None:
            start = index
        elif not yes and start is not None:
            first, last = versions[start], versions[index - 1]
            found.append(first if first == last else f"{first}-{last}")
            start = None
    return found


def default_versions() -> list[str]:
    """The last patch of each minor version a profile is named after, and the newest version."""
    minors = {p.removeprefix("mlflow-") for p in MLFLOW_VERSION_PROFILES}
    return [v for v in ALL_VERSIONS if v.rsplit(".", 1)[0] in minors] + [ALL_VERSIONS[-1]]


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the mode asked for."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("versions", nargs="*", help="MLflow versions (default: those with a profile)")
    parser.add_argument("--all", action="store_true", help="the last patch of every minor version from 2.0")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--discover", action="store_true", help="print what changed between adjacent versions")
    mode.add_argument("--record", action="store_true", help=f"write {RECORD.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    versions = args.versions or (list(ALL_VERSIONS) if args.all else default_versions())
    texts = cases()
    if args.discover:
        return discover(versions, texts)
    if args.record:
        return record(versions, texts)
    return compare(versions, texts)


if __name__ == "__main__":
    sys.exit(main())
