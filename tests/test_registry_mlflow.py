"""`mlspec registry plan/apply` against a real MLflow, two ways:

* ``sqlite``: the tracking URI is a sqlite file, used in-process (the embedded default);
* ``server``: an ``mlflow server`` this module starts on 127.0.0.1 (free port, sqlite
  backend in a temporary directory), shared by its tests and stopped after them.

Every scenario runs on both. Tests sharing the server use their own model names (a
prefix), so they never see each other's models. Nothing is mocked.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlspec.cli_registry import registry
from mlspec.registry import reconcile
from mlspec.registry.desired import MANAGED_BY_TAG, PLATFORM_TAG, SPEC_VERSION_TAG
from mlspec.registry.plan import Action
from mlspec.spec.frontend import SpecFile
from tests.conftest import EXAMPLE

SERVER_START_TIMEOUT = 240.0  # seconds; about 30 on a busy 2-core machine
MODELS = ("fraud-detector", "search-reranker")

# MLflow's own SQLAlchemy usage, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
_PREFIXES = itertools.count(1)


# --- the real MLflow server ------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Started first thing (autouse), so it boots while the sqlite tests run; stopped when
    this module's tests are done."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--default-artifact-root", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    yield Server(process, f"http://127.0.0.1:{port}", log)
    _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn runs as a child), then SIGKILL it."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def server_uri(mlflow_server: Server) -> str:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if mlflow_server.process.poll() is not None:
            pytest.fail(f"mlflow server exited:\n{mlflow_server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{mlflow_server.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return mlflow_server.url
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"mlflow server not up after {SERVER_START_TIMEOUT:g}s")


@pytest.fixture(scope="session")
def empty_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sqlite registry with MLflow's tables created once; each test gets a copy."""
    from mlspec.registry.mlflow_client import MlflowRegistry

    path = tmp_path_factory.mktemp("mlflow-sqlite") / "empty.db"
    MlflowRegistry(f"sqlite:///{path}").read(["none"], "none")
    return path


@dataclass(frozen=True)
class Backend:
    kind: str
    uri: str
    prefix: str  # prepended to the model names of the spec

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture(params=["sqlite", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, empty_registry: Path) -> Backend:
    if request.param == "sqlite":
        db = tmp_path / "mlflow.db"
        shutil.copy(empty_registry, db)
        return Backend("sqlite", f"sqlite:///{db}", "")
    uri = request.getfixturevalue("server_uri")
    return Backend("server", uri, f"t{next(_PREFIXES)}-")


# --- helpers -----------------------------------------------------------------------------------


def write_spec(tmp_path: Path, prefix: str, *edits: tuple[str, str], name: str = "p") -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    for model in MODELS:
        text = text.replace(model, prefix + model)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def mlspec(*args: str | Path) -> Result:
    return CliRunner().invoke(registry, [str(a) for a in args])


def apply(spec: Path, uri: str, *extra: str) -> Result:
    return mlspec("apply", spec, "--env", "prod", "--tracking-uri", uri, "--auto-approve", *extra)


def plan(spec: Path, uri: str, *extra: str) -> Result:
    return mlspec("plan", spec, "--env", "prod", "--tracking-uri", uri, *extra)


def versions(backend: Backend, model: str) -> dict[int, tuple[int, str, str]]:
    """Spec version -> (MLflow number, source, status); fails on a duplicate."""
    found: dict[int, tuple[int, str, str]] = {}
    for v in backend.client().search_model_versions(f"name = '{backend.prefix}{model}'"):
        spec = int(v.tags[SPEC_VERSION_TAG])
        assert spec not in found, f"spec version {spec} registered twice"
        found[spec] = (int(v.version), v.source, v.status)
    return found


def aliases(backend: Backend, model: str) -> dict[str, int]:
    held = backend.client().get_registered_model(backend.prefix + model).aliases
    return {alias: int(number) for alias, number in held.items()}


def key_line(spec: Path, key: str) -> tuple[int, int]:
    for number, line in enumerate(spec.read_text().splitlines(), 1):
        if line.strip() == f"{key}:" and line.startswith("  ") and not line.startswith("   "):
            return number, 3
    raise AssertionError(key)


# --- scenarios, on both backends ----------------------------------------------------------


def test_first_apply_creates_everything_and_a_second_changes_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, backend.prefix)
    first = apply(spec, backend.uri)
    assert first.exit_code == 0, first.output
    assert "Plan: 8 to add, 0 to change, 0 to destroy." in first.stdout
    assert "Apply finished: 8 of 8 changes made." in first.stderr

    fraud = backend.client().get_registered_model(backend.prefix + "fraud-detector")
    assert fraud.description == "Gradient-boosted classifier scoring card transactions."
    assert fraud.tags[MANAGED_BY_TAG] == "mlspec" and fraud.tags[PLATFORM_TAG] == "acme-ml"
    assert fraud.tags["pii"] == "false"
    held = versions(backend, "fraud-detector")
    assert {spec: (source, status) for spec, (_, source, status) in held.items()} == {
        7: (f"s3://acme-models/{backend.prefix}fraud-detector/7", "READY"),
        8: (f"s3://acme-models/{backend.prefix}fraud-detector/8", "READY"),
    }
    # aliases point at MLflow's numbers, found through the spec-version tag
    assert aliases(backend, "fraud-detector") == {"champion": held[7][0], "challenger": held[8][0]}
    assert aliases(backend, "search-reranker") == {
        "champion": versions(backend, "search-reranker")[3][0]
    }

    again = plan(spec, backend.uri, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes. The registry matches the spec." in again.stdout
    second = apply(spec, backend.uri)
    assert second.exit_code == 0, second.output
    assert "No changes." in second.stdout
    assert versions(backend, "fraud-detector") == held


def test_moving_an_alias_plans_exactly_one_change(backend: Backend, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, backend.prefix)
    assert apply(spec, backend.uri).exit_code == 0
    moved = write_spec(
        tmp_path, backend.prefix, ("{champion: 7, challenger: 8}", "{champion: 8, challenger: 8}")
    )
    pending = plan(moved, backend.uri, "--detailed-exitcode", "--format", "json")
    assert pending.exit_code == 3, pending.output
    document = json.loads(pending.stdout)
    assert document["summary"] == {"add": 0, "change": 1, "destroy": 0}
    (change,) = document["changes"]
    held = versions(backend, "fraud-detector")
    assert (change["op"], change["alias"], change["old_version"], change["mlflow_version"]) == (
        "set-alias",
        "champion",
        held[7][0],
        held[8][0],
    )
    assert apply(moved, backend.uri).exit_code == 0
    assert aliases(backend, "fraud-detector")["champion"] == held[8][0]
    assert plan(moved, backend.uri, "--detailed-exitcode").exit_code == 0


def test_a_foreign_model_with_the_same_name_is_reported_and_not_modified(
    backend: Backend, tmp_path: Path
) -> None:
    name = backend.prefix + "fraud-detector"
    client = backend.client()
    client.create_registered_model(name, tags={"team": "theirs"}, description="not ours")
    client.create_model_version(name, "s3://theirs/1", await_creation_for=0)
    spec = write_spec(tmp_path, backend.prefix)

    result = apply(spec, backend.uri)
    assert result.exit_code == 1, result.output
    line, col = key_line(spec, name)
    assert f"{spec}:{line}:{col}: error[MLS860]: registered model {name} already exists" in (
        result.stderr
    )
    foreign = client.get_registered_model(name)
    assert (foreign.description, foreign.tags, foreign.aliases) == (
        "not ours",
        {"team": "theirs"},
        {},
    )
    assert len(client.search_model_versions(f"name = '{name}'")) == 1
    assert set(versions(backend, "search-reranker")) == {3}  # the rest was applied


def test_spec_edits_update_description_tags_and_stale_aliases_only(
    backend: Backend, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, backend.prefix)
    assert apply(spec, backend.uri).exit_code == 0
    name = backend.prefix + "fraud-detector"
    client = backend.client()
    client.set_registered_model_tag(name, "owner", "someone")  # not mlspec's: kept
    client.set_registered_model_alias(name, "old", versions(backend, "fraud-detector")[7][0])
    edited = write_spec(
        tmp_path,
        backend.prefix,
        ("scoring card transactions.", "scoring card payments."),
        ('tags: {domain: payments, pii: "false"}', "tags: {domain: cards}"),
        ("fraud-detector/8}", "fraud-detector/8, tags: {run: abc}}"),
        name="edited",
    )
    result = apply(edited, backend.uri)
    assert result.exit_code == 0, result.output
    assert "Plan: 1 to add, 4 to change, 2 to destroy." in result.stdout
    model = client.get_registered_model(name)
    assert model.description == "Gradient-boosted classifier scoring card payments."
    assert (model.tags["domain"], model.tags["owner"], "pii" in model.tags) == (
        "cards",
        "someone",
        False,
    )
    assert "old" not in model.aliases
    eight = client.get_model_version(name, str(versions(backend, "fraud-detector")[8][0]))
    assert eight.tags["run"] == "abc"
    assert plan(edited, backend.uri, "--detailed-exitcode").exit_code == 0


class SimulatedCrashError(Exception):
    """The fault injected into a real apply: as if the process died there."""


def test_an_interrupted_apply_is_finished_by_the_next_without_duplicates(
    backend: Backend, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, backend.prefix)
    prepared = reconcile.prepare(SpecFile.read(spec), "prod", backend.uri)
    target = reconcile.open_registry(prepared)
    done: list[Action] = []

    def die_after_two(action: Action) -> None:
        done.append(action)
        if len(done) == 2:  # the model and its first version exist, nothing else
            raise SimulatedCrashError

    with pytest.raises(SimulatedCrashError):
        reconcile.apply(prepared, target, workers=1, after_each=die_after_two)
    assert set(versions(backend, "fraud-detector")) == {7}
    rest, _ = reconcile.plan(prepared, target)
    assert len(rest.actions) == 6  # version 8, two aliases, and the second model

    finished = apply(spec, backend.uri)
    assert finished.exit_code == 0, finished.output
    assert "Apply finished: 6 of 6 changes made." in finished.stderr
    assert set(versions(backend, "fraud-detector")) == {7, 8}  # no duplicate (checked there)
    assert plan(spec, backend.uri, "--detailed-exitcode").exit_code == 0


# --- the sqlite path ---------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path, empty_registry: Path) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_registry, db)
    uri = f"sqlite:///{db}"
    spec = write_spec(
        tmp_path, "", ("trackingUri: https://mlflow.acme.example", f"trackingUri: {uri}")
    )
    planned = mlspec("plan", spec, "--env", "prod")
    dry = mlspec("apply", spec, "--env", "prod", "--dry-run")
    assert planned.exit_code == dry.exit_code == 0, dry.output
    assert dry.stdout == planned.stdout
    assert f"MLflow registry {uri} (environment prod, from the spec)" in dry.stdout
    assert mlspec("plan", spec, "--env", "prod", "--detailed-exitcode").exit_code == 3


def test_a_change_mlflow_refuses_is_reported_at_its_spec_line(
    tmp_path: Path, empty_registry: Path
) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_registry, db)
    backend = Backend("sqlite", f"sqlite:///{db}", "")
    spec = write_spec(tmp_path, "")
    prepared = reconcile.prepare(SpecFile.read(spec), "prod", backend.uri)
    target = reconcile.open_registry(prepared)

    def delete_behind_our_back(action: Action) -> None:
        if action.model == "fraud-detector":  # someone deletes it right after we created it
            backend.client().delete_registered_model("fraud-detector")

    applied = reconcile.apply(prepared, target, workers=1, after_each=delete_behind_our_back)
    (refused,) = applied.diagnostics
    assert refused.code == "MLS865" and "fraud-detector" in refused.message
    line = next(
        i for i, text in enumerate(spec.read_text().splitlines(), 1) if "7: {source" in text
    )
    assert refused.location is not None
    assert (refused.location.file, refused.location.line) == (str(spec), line)
    assert applied.result.not_run == 3  # version 8 and both aliases depend on it
    assert set(versions(backend, "search-reranker")) == {3}  # other models go on


def test_apply_refuses_to_run_unattended_without_auto_approve(
    tmp_path: Path, empty_registry: Path
) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_registry, db)
    spec = write_spec(tmp_path, "")
    result = mlspec("apply", spec, "--env", "prod", "--tracking-uri", f"sqlite:///{db}")
    assert result.exit_code == 2
    assert "error[MLS951]" in result.stderr
    assert versions(Backend("sqlite", f"sqlite:///{db}", ""), "fraud-detector") == {}


def test_an_unreachable_registry_is_a_tool_failure_after_bounded_retries(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "")
    started = time.monotonic()
    result = plan(spec, f"http://127.0.0.1:{_free_port()}", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert "error[MLS950]: cannot use the MLflow registry at http://127.0.0.1:" in result.stderr
    assert time.monotonic() - started < 30


# --- transient failures, through a faulty proxy in front of the real server ---------------------


class FaultyProxy(ThreadingHTTPServer):
    """Forwards to the MLflow server; the first ``lose`` version creations reach MLflow, but
    their answers are replaced by a 503, as when a load balancer drops a slow response."""

    def __init__(self, upstream: str, lose: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.lose = lose
        self.lost = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def should_lose(self, path: str) -> bool:
        with self.lock:
            if path.endswith("/model-versions/create") and self.lost < self.lose:
                self.lost += 1
                return True
            return False


class _ProxyHandler(BaseHTTPRequestHandler):
    server: FaultyProxy

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body or None, method=self.command
        )
        request.add_header("Content-Type", self.headers.get("Content-Type", "application/json"))
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, payload = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        if self.server.should_lose(self.path):
            status, payload = 503, b"upstream answer lost"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def test_a_lost_answer_to_a_create_is_retried_without_a_duplicate(
    server_uri: str, tmp_path: Path
) -> None:
    proxy = FaultyProxy(server_uri, lose=2)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        backend = Backend("server", server_uri, f"t{next(_PREFIXES)}-")
        spec = write_spec(tmp_path, backend.prefix)
        result = apply(spec, proxy.url)
        assert result.exit_code == 0, result.output
        assert proxy.lost == 2
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert set(versions(backend, "fraud-detector")) == {7, 8}  # each exactly once
    assert set(versions(backend, "search-reranker")) == {3}
    assert plan(spec, server_uri, "--detailed-exitcode").exit_code == 0


def test_the_registry_group_is_a_subcommand_of_mlspec() -> None:
    from mlspec.cli import main

    result = CliRunner().invoke(main, ["registry", "plan", "--help"])
    assert result.exit_code == 0, result.output
    assert "--detailed-exitcode" in result.output
