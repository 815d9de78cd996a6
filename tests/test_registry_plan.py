"""Registry plan, pure: desired state, the diff, rendering and the `mlflow` compiler.

No MLflow here; tests/test_registry_mlflow.py runs the same against real MLflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from mlspec import api
from mlspec.diagnostics import Location
from mlspec.registry.desired import (
    MANAGED_BY_TAG,
    MANAGED_TAGS_TAG,
    PLATFORM_TAG,
    SPEC_VERSION_TAG,
    TENANT_TAG,
    DesiredState,
    check_desired,
    desired_state,
    locate,
    redact_uri,
    scrub,
)
from mlspec.registry.plan import (
    ActualModel,
    ActualVersion,
    CreateVersion,
    DeleteAlias,
    DeleteTag,
    Plan,
    SetAlias,
    SetDescription,
    SetTag,
    make_plan,
)
from mlspec.registry.render import Header, render_json, render_text
from mlspec.spec.frontend import EnvironmentSpec, SpecFile, validate_spec
from tests.conftest import EXAMPLE

HEADER = Header("prod", "sqlite:///mlruns.db", "the default")


def environment(text: str | None = None, env: str = "prod") -> EnvironmentSpec:
    raw = (text if text is not None else EXAMPLE.read_text()).encode()
    validated = validate_spec(SpecFile("platform.yaml", "platform.yaml", raw), [env])
    assert validated.ok, validated.diagnostics
    return validated.environments[env]


def desired(text: str | None = None) -> DesiredState:
    return desired_state(environment(text).platform)


def registered(state: DesiredState, first_number: int = 1) -> dict[str, ActualModel]:
    """What MLflow holds once ``state`` is applied: MLflow numbers from ``first_number``."""
    models = {}
    for model in state.models:
        numbers = {v.spec_version: first_number + i for i, v in enumerate(model.versions)}
        versions = tuple(
            ActualVersion(numbers[v.spec_version], v.source, "READY", v.mlflow_tags())
            for v in model.versions
        )
        aliases = {alias: numbers[spec] for alias, spec in model.aliases.items()}
        description = model.description or ""
        models[model.name] = ActualModel(
            model.name, description, model.mlflow_tags(), aliases, versions
        )
    return models


def edited(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text
    return text.replace(old, new)


# --- desired state ---------------------------------------------------------------------------


def test_desired_state_of_the_reference_spec_orders_models_and_versions() -> None:
    state = desired()
    assert state.platform == "acme-ml"
    assert state.names == ["fraud-detector", "search-reranker"]
    fraud = state.models[0]
    assert [v.spec_version for v in fraud.versions] == [7, 8]
    assert fraud.aliases == {"challenger": 8, "champion": 7}
    assert fraud.versions[0].pointer == "/models/fraud-detector/versions/7"


def test_owned_models_carry_ownership_and_the_list_of_tags_mlspec_set() -> None:
    fraud = desired().models[0]
    tags = fraud.mlflow_tags()
    assert tags[MANAGED_BY_TAG] == "mlspec"
    assert tags[PLATFORM_TAG] == "acme-ml"
    assert tags[TENANT_TAG] == "fraud"
    assert json.loads(tags[MANAGED_TAGS_TAG]) == ["domain", "pii"]
    assert tags["pii"] == "false"
    version_tags = fraud.versions[1].mlflow_tags()
    assert version_tags[SPEC_VERSION_TAG] == "8"


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in the spec")


def test_reserved_tag_keys_and_alias_names_are_located_errors() -> None:
    text = edited(
        "tags: {domain: payments", 'tags: {"mlspec.dev/owner": x, "a,b": y, domain: payments'
    )
    text = text.replace("aliases: {champion: 3}", "aliases: {champion: 3, v2: 3}")
    env = environment(text)
    problems = locate(check_desired(desired_state(env.platform)), env.sources)
    found = sorted((d.code, d.location) for d in problems)
    assert found == [
        ("MLS861", Location("platform.yaml", *position(text, '"mlspec.dev/owner"'))),
        ("MLS861", Location("platform.yaml", *position(text, '"a,b"'))),
        ("MLS862", Location("platform.yaml", *position(text, "v2: 3"))),
    ]


def test_credentials_in_a_tracking_uri_are_never_shown() -> None:
    assert redact_uri("https://bob:s3cret@mlflow.example/x?token=abc") == (
        "https://***@mlflow.example/x?***"
    )
    assert redact_uri("sqlite:///mlruns.db") == "sqlite:///mlruns.db"
    assert scrub("API request to https://bob:s3cret@h/api failed") == (
        "API request to https://***@h/api failed"
    )


# --- the plan --------------------------------------------------------------------------------


def test_an_empty_registry_gets_every_model_version_and_alias_in_dependency_order() -> None:
    plan = make_plan(desired(), {})
    kinds = [(type(a).__name__, a.model) for a in plan.actions]
    assert kinds == [
        ("CreateModel", "fraud-detector"),
        ("CreateVersion", "fraud-detector"),
        ("CreateVersion", "fraud-detector"),
        ("SetAlias", "fraud-detector"),
        ("SetAlias", "fraud-detector"),
        ("CreateModel", "search-reranker"),
        ("CreateVersion", "search-reranker"),
        ("SetAlias", "search-reranker"),
    ]
    created = [a.spec_version for a in plan.actions if isinstance(a, CreateVersion)]
    assert created == [7, 8, 3]
    aliases = [a for a in plan.actions if isinstance(a, SetAlias)]
    assert all(a.mlflow_version is None and a.old_version is None for a in aliases)
    assert plan.counts() == {"add": 8, "change": 0, "destroy": 0}
    assert plan.diagnostics == ()


def test_a_registry_that_holds_the_spec_plans_nothing() -> None:
    state = desired()
    plan = make_plan(state, registered(state))
    assert plan.in_sync and plan.diagnostics == ()
    assert plan.matched == {
        ("fraud-detector", 7): 1,
        ("fraud-detector", 8): 2,
        ("search-reranker", 3): 1,
    }


def test_spec_versions_map_to_mlflow_numbers_through_the_tag_not_the_number() -> None:
    state = desired()
    actual = registered(state, first_number=40)  # MLflow numbered them 40, 41
    plan = make_plan(state, actual)
    assert plan.in_sync
    assert plan.matched[("fraud-detector", 7)] == 40
    # an untagged MLflow version 7 with the right source is not spec version 7
    fraud = actual["fraud-detector"]
    untagged = ActualVersion(7, "s3://acme-models/fraud-detector/7", "READY", {})
    only_untagged = replace(fraud, versions=(untagged,), aliases={})
    plan = make_plan(state, {**actual, "fraud-detector": only_untagged})
    created = [a.spec_version for a in plan.actions if isinstance(a, CreateVersion)]
    assert created == [7, 8]


def test_moving_an_alias_plans_exactly_one_change() -> None:
    before = desired()
    after = desired(edited("aliases: {champion: 7,", "aliases: {champion: 8,"))
    plan = make_plan(after, registered(before))
    assert plan.actions == (
        SetAlias(
            "fraud-detector",
            "/models/fraud-detector/aliases/champion",
            "champion",
            spec_version=8,
            mlflow_version=2,
            old_version=1,
            old_spec_version=7,
        ),
    )
    assert plan.counts() == {"add": 0, "change": 1, "destroy": 0}


def test_an_alias_to_a_new_version_waits_for_its_mlflow_number() -> None:
    before = desired()
    text = edited(
        "      8: {source: s3://acme-models/fraud-detector/8}\n",
        "      8: {source: s3://acme-models/fraud-detector/8}\n"
        "      9: {source: s3://acme-models/fraud-detector/9}\n",
    ).replace("challenger: 8}", "challenger: 9}")
    plan = make_plan(desired(text), registered(before))
    assert [type(a).__name__ for a in plan.actions] == ["CreateVersion", "SetAlias"]
    alias = plan.actions[1]
    assert isinstance(alias, SetAlias)
    assert (alias.spec_version, alias.mlflow_version, alias.old_version) == (9, None, 2)


def test_an_alias_not_in_the_spec_is_deleted_from_an_owned_model() -> None:
    state = desired()
    actual = registered(state)
    fraud = actual["fraud-detector"]
    actual["fraud-detector"] = replace(fraud, aliases={**fraud.aliases, "old": 1})
    plan = make_plan(state, actual)
    assert plan.actions == (DeleteAlias("fraud-detector", "/models/fraud-detector", "old", 1, 7),)


def test_a_foreign_model_with_the_same_name_is_reported_and_left_alone() -> None:
    state = desired()
    foreign = ActualModel("fraud-detector", "theirs", {"team": "x"}, {"prod": 3})
    plan = make_plan(state, {"fraud-detector": foreign})
    assert {a.model for a in plan.actions} == {"search-reranker"}
    (conflict,) = plan.diagnostics
    assert conflict.code == "MLS860" and conflict.is_error
    assert conflict.pointer == "/models/fraud-detector"
    assert "outside mlspec" in conflict.message


def test_a_model_owned_by_another_platform_is_a_conflict_too() -> None:
    state = desired()
    theirs = DesiredState("other-ml", tuple(replace(m, platform="other-ml") for m in state.models))
    actual = registered(theirs)
    plan = make_plan(state, actual)
    assert plan.actions == ()
    assert [d.code for d in plan.diagnostics] == ["MLS860", "MLS860"]
    assert "platform `other-ml`" in plan.diagnostics[0].message


def test_a_changed_source_for_a_registered_version_is_a_conflict_at_its_line() -> None:
    before = desired()
    text = edited("7: {source: s3://acme-models/fraud-detector/7}", "7: {source: s3://elsewhere/7}")
    env = environment(text)
    plan = make_plan(desired_state(env.platform), registered(before))
    assert plan.actions == ()  # no new version 7, and champion stays where it is
    (conflict,) = locate(plan.diagnostics, env.sources)
    assert conflict.code == "MLS863"
    assert conflict.location == Location("platform.yaml", *position(text, "source: s3://elsewhere"))


def test_a_version_registered_twice_is_a_warning_and_aliases_use_the_lowest() -> None:
    state = desired()
    actual = registered(state)
    fraud = actual["fraud-detector"]
    twin = replace(fraud.versions[0], number=9)
    actual["fraud-detector"] = replace(fraud, versions=(*fraud.versions, twin))
    plan = make_plan(state, actual)
    assert plan.in_sync
    (warning,) = plan.diagnostics
    assert warning.code == "MLS864" and not warning.is_error
    assert plan.matched[("fraud-detector", 7)] == 1


def test_a_failed_registration_does_not_count_as_registered() -> None:
    state = desired()
    actual = registered(state)
    reranker = actual["search-reranker"]
    failed = replace(reranker.versions[0], status="FAILED_REGISTRATION")
    actual["search-reranker"] = replace(reranker, versions=(failed,), aliases={})
    plan = make_plan(state, actual)
    assert [type(a).__name__ for a in plan.actions] == ["CreateVersion", "SetAlias"]


def test_tags_removed_from_the_spec_are_deleted_and_tags_set_by_others_kept() -> None:
    before = desired()
    actual = registered(before)
    fraud = actual["fraud-detector"]
    actual["fraud-detector"] = replace(fraud, tags={**fraud.tags, "owner": "someone"})
    after = desired(edited('tags: {domain: payments, pii: "false"}', "tags: {domain: cards}"))
    plan = make_plan(after, actual)
    pointer = "/models/fraud-detector/tags"
    assert plan.actions == (
        SetTag("fraud-detector", pointer, "domain", "payments", "cards"),
        SetTag("fraud-detector", pointer, MANAGED_TAGS_TAG, '["domain","pii"]', '["domain"]'),
        DeleteTag("fraud-detector", pointer, "pii", "false"),
    )


def test_version_tags_are_set_on_the_mlflow_number() -> None:
    before = desired()
    after = desired(
        edited(
            "8: {source: s3://acme-models/fraud-detector/8}",
            "8: {source: s3://acme-models/fraud-detector/8, tags: {run: abc}}",
        )
    )
    plan = make_plan(after, registered(before, first_number=5))
    setters = [a for a in plan.actions if isinstance(a, SetTag)]
    assert {(a.key, a.spec_version, a.mlflow_version) for a in setters} == {
        ("run", 8, 6),
        (MANAGED_TAGS_TAG, 8, 6),
    }


def test_a_description_is_updated_and_an_absent_one_left_alone() -> None:
    state = desired()
    actual = registered(state)
    actual["fraud-detector"] = replace(actual["fraud-detector"], description="old words")
    plan = make_plan(state, actual)
    assert [type(a) for a in plan.actions] == [SetDescription]
    text = EXAMPLE.read_text().replace(
        "    description: Gradient-boosted classifier scoring card transactions.\n", ""
    )
    assert make_plan(desired(text), actual).in_sync


# --- rendering -------------------------------------------------------------------------------


def test_text_plan_shows_spec_and_mlflow_numbers_and_a_terraform_summary() -> None:
    before = desired()
    after = desired(edited("aliases: {champion: 7,", "aliases: {champion: 8,"))
    plan = make_plan(after, registered(before, first_number=3))
    text = render_text(plan, HEADER)
    assert text == (
        "MLflow registry sqlite:///mlruns.db (environment prod, from the default)\n"
        "\n"
        "  # registered model fraud-detector\n"
        "  ~ alias fraud-detector@champion: version 7 (MLflow 3) -> version 8 (MLflow 4)\n"
        "\n"
        "Plan: 0 to add, 1 to change, 0 to destroy.\n"
    )
    assert render_text(make_plan(before, registered(before)), HEADER).endswith(
        "No changes. The registry matches the spec.\n"
    )


def test_text_plan_of_a_create_lists_what_it_sets() -> None:
    text = render_text(make_plan(desired(), {}), HEADER)
    assert "  + create registered model fraud-detector (tenant fraud)\n" in text
    assert '      tag "pii" = "false"\n' in text
    assert '  + create version 7 of fraud-detector from "s3://acme-models/fraud-detector/7"' in text
    assert (
        "  + alias fraud-detector@champion -> version 7 (MLflow number assigned on create)" in text
    )
    assert text.endswith("Plan: 8 to add, 0 to change, 0 to destroy.\n")


def test_json_plan_is_stable_and_machine_readable() -> None:
    state = desired()
    plan = make_plan(state, {})
    first = render_json(plan, HEADER, [])
    assert first == render_json(make_plan(desired(), {}), HEADER, [])
    document = json.loads(first)
    assert document["in_sync"] is False
    assert document["summary"] == {"add": 8, "change": 0, "destroy": 0}
    assert document["changes"][0]["op"] == "create-model"
    assert document["changes"][1] == {
        "op": "create-version",
        "change": "add",
        "model": "fraud-detector",
        "pointer": "/models/fraud-detector/versions/7",
        "spec_version": 7,
        "source": "s3://acme-models/fraud-detector/7",
        "tags": state.models[0].versions[0].mlflow_tags(),
    }


def test_plan_of_nothing_is_in_sync() -> None:
    assert Plan().in_sync and Plan().counts() == {"add": 0, "change": 0, "destroy": 0}


# --- the `mlflow` compiler -------------------------------------------------------------------


def test_compiler_writes_one_registrations_file_per_environment() -> None:
    compiled = api.compile_spec(SpecFile.read(EXAMPLE), (), ["mlflow"])
    assert compiled.ok, compiled.diagnostics
    assert sorted(path for path in compiled.files if "registr" in path) == [
        "prod/registry/registrations.yaml",
        "staging/registry/registrations.yaml",
    ]
    listings = [
        data for path, data in compiled.files.items() if path.endswith("kustomization.yaml")
    ]
    assert not any(b"registr" in data for data in listings)  # never applied to the cluster
    text = compiled.files["prod/registry/registrations.yaml"].decode()
    assert text.startswith("apiVersion: mlspec.dev/v1alpha1\nkind: ModelRegistrations\n")
    again = api.compile_spec(SpecFile.read(EXAMPLE), (), ["mlflow"])
    assert again.files == compiled.files


def test_registrations_document_holds_spec_numbers_aliases_and_ownership() -> None:
    from mlspec.compilers.base import CompileContext
    from mlspec.compilers.mlflow import MlflowCompiler

    env = environment()
    ctx = CompileContext("prod", "prod-eu", env.platform, env.sources, "platform.yaml")
    (artifact,) = MlflowCompiler().compile(ctx).artifacts
    spec = artifact.object["spec"]
    assert spec["trackingUri"] == "https://mlflow.acme.example"
    assert spec["ownership"] == {MANAGED_BY_TAG: "mlspec", PLATFORM_TAG: "acme-ml"}
    fraud = spec["models"]["fraud-detector"]
    assert fraud["aliases"] == {"challenger": 8, "champion": 7}
    assert fraud["versions"][0] == {
        "specVersion": 7,
        "source": "s3://acme-models/fraud-detector/7",
        "tags": {},
    }
    assert artifact.object["metadata"]["annotations"]["mlspec.dev/source"] == (
        "platform.yaml#/models"
    )


def test_a_platform_without_models_compiles_no_registrations() -> None:
    from mlspec.compilers.base import CompileContext
    from mlspec.compilers.mlflow import MlflowCompiler

    text = (
        "apiVersion: mlspec.dev/v1alpha1\nkind: Platform\nmetadata: {name: tiny}\n"
        "gitops: {engine: argocd, repoURL: https://git.example/x.git}\n"
    )
    env = environment(text, "default")
    ctx = CompileContext("default", None, env.platform, env.sources, "platform.yaml")
    assert MlflowCompiler().compile(ctx).artifacts == []


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_validate_and_compile_never_import_mlflow(command: str) -> None:
    script = (
        "import sys\n"
        "from mlspec import api, cli\n"
        "from mlspec.spec.frontend import SpecFile\n"
        f"spec = SpecFile.read({str(EXAMPLE)!r})\n"
        + (
            "assert api.validate(spec).ok\n"
            if command == "validate"
            else "assert api.compile_spec(spec, (), ['mlflow']).ok\n"
        )
        + "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow')\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
