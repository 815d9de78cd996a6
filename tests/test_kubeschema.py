"""Strict schema checks of written objects: upstream CRDs and core Kubernetes kinds."""

from __future__ import annotations

import copy
import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import re2

from mlspec.output import gopatterns, kubeschema, strictcrd
from mlspec.output.kubeschema import SchemaProblem, check_object, check_objects

CRDS = Path(kubeschema.__file__).resolve().parent.parent / "crds"


def _obj(
    api_version: str,
    kind: str,
    body: dict[str, Any],
    *,
    name: str = "team-a",
    namespace: str | None = "team-a",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"mlspec.io/tenant": "team-a"}}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **copy.deepcopy(body)}


ISVC = _obj(
    "serving.kserve.io/v1beta1",
    "InferenceService",
    {
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "nodeSelector": {"mlspec.io/pool": "a100"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
                "model": {
                    "modelFormat": {"name": "xgboost"},
                    "storageUri": "s3://models/fraud/v3",
                    "resources": {
                        "requests": {"cpu": "1", "memory": "2Gi"},
                        "limits": {"cpu": 2, "memory": "4Gi", "nvidia.com/gpu": 1},
                    },
                },
            }
        }
    },
    name="fraud",
)

CLUSTER_QUEUE = _obj(
    "kueue.x-k8s.io/v1beta2",
    "ClusterQueue",
    {
        "spec": {
            "cohortName": "gpu-pool",
            "namespaceSelector": {"matchLabels": {"mlspec.io/tenant": "team-a"}},
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "nvidia.com/gpu"],
                    "flavors": [
                        {
                            "name": "a100",
                            "resources": [
                                {"name": "cpu", "nominalQuota": "64"},
                                {"name": "nvidia.com/gpu", "nominalQuota": 8},
                            ],
                        }
                    ],
                }
            ],
        }
    },
    namespace=None,
)

PROMETHEUS_RULE = _obj(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    {
        "spec": {
            "groups": [
                {
                    "name": "fraud.rules",
                    "partial_response_strategy": "Warn",
                    "rules": [
                        {
                            "alert": "FraudModelDown",
                            "expr": 'up{job="fraud"} == 0',
                            "for": "5m",
                            "labels": {"severity": "page"},
                        }
                    ],
                }
            ]
        }
    },
    name="fraud",
)

NAMESPACE = _obj("v1", "Namespace", {}, namespace=None)

CRON_JOB = _obj(
    "batch/v1",
    "CronJob",
    {
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "retrain", "image": "ghcr.io/x/y:1"}],
                        }
                    }
                }
            },
        }
    },
    name="retrain",
)

RESOURCE_QUOTA = _obj(
    "v1",
    "ResourceQuota",
    {"spec": {"hard": {"requests.cpu": "32", "requests.nvidia.com/gpu": 4, "pods": "100"}}},
    name="compute",
)

VALID = [
    ISVC,
    CLUSTER_QUEUE,
    _obj("kueue.x-k8s.io/v1beta2", "LocalQueue", {"spec": {"clusterQueue": "team-a"}}),
    _obj(
        "kueue.x-k8s.io/v1beta2",
        "ResourceFlavor",
        {"spec": {"nodeLabels": {"mlspec.io/pool": "a100"}}},
        name="a100",
    ),
    _obj("kueue.x-k8s.io/v1beta2", "WorkloadPriorityClass", {"value": 1000}, name="high"),
    PROMETHEUS_RULE,
    _obj(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        {
            "spec": {
                "selector": {"matchLabels": {"app": "fraud"}},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            }
        },
    ),
    _obj(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        {
            "spec": {
                "selector": {"matchLabels": {"app": "fraud"}},
                "podMetricsEndpoints": [{"port": "metrics"}],
            }
        },
    ),
    _obj("pipelines.kubeflow.org/v2beta1", "Pipeline", {"spec": {"displayName": "Train"}}),
    _obj(
        "pipelines.kubeflow.org/v2beta1",
        "PipelineVersion",
        {
            "spec": {
                "pipelineName": "train",
                "pipelineSpec": {"schemaVersion": "2.1.0", "root": {}},
            }
        },
        name="train-v1",
    ),
    _obj(
        "argoproj.io/v1alpha1",
        "Application",
        {
            "spec": {
                "project": "team-a",
                "source": {
                    "repoURL": "https://git.example.com/platform.git",
                    "path": "out/prod/team-a",
                    "targetRevision": "main",
                },
                "destination": {"server": "https://kubernetes.default.svc"},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
            }
        },
    ),
    _obj(
        "argoproj.io/v1alpha1",
        "AppProject",
        {
            "spec": {
                "sourceRepos": ["https://git.example.com/platform.git"],
                "destinations": [
                    {"namespace": "team-a", "server": "https://kubernetes.default.svc"}
                ],
            }
        },
    ),
    _obj(
        "argoproj.io/v1alpha1",
        "ApplicationSet",
        {
            "spec": {
                "generators": [{"list": {"elements": [{"tenant": "team-a"}]}}],
                "template": {
                    "metadata": {"name": "{{tenant}}"},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": "https://git.example.com/p.git", "path": "x"},
                        "destination": {"server": "https://kubernetes.default.svc"},
                    },
                },
            }
        },
    ),
    _obj(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        {
            "spec": {
                "interval": "10m",
                "path": "./out/prod",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "platform"},
            }
        },
    ),
    _obj(
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        {
            "spec": {
                "interval": "1m",
                "url": "https://git.example.com/platform.git",
                "ref": {"branch": "main"},
            }
        },
    ),
    NAMESPACE,
    RESOURCE_QUOTA,
    _obj(
        "v1",
        "LimitRange",
        {
            "spec": {
                "limits": [
                    {"type": "Container", "default": {"cpu": "500m"}, "max": {"memory": "8Gi"}}
                ]
            }
        },
        name="defaults",
    ),
    _obj(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        {
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [
                {"kind": "Group", "name": "team-a", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
        name="team-a:edit",
    ),
    _obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        {"spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": []}]}},
        name="default-deny",
    ),
    CRON_JOB,
    _obj("v1", "ServiceAccount", {}, name="runner"),
    _obj("v1", "ConfigMap", {"data": {"a": "b"}}, name="settings"),
    _obj("scheduling.k8s.io/v1", "PriorityClass", {"value": 1000}, name="high", namespace=None),
]


def _id(obj: dict[str, Any]) -> str:
    return f"{obj['apiVersion']}-{obj['kind']}"


@pytest.mark.parametrize("obj", VALID, ids=_id)
def test_valid_objects_pass(obj: dict[str, Any]) -> None:
    assert check_object(obj) == []


def _with(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with the JSON pointer ``path`` set (removed when value is ...)."""
    out = copy.deepcopy(obj)
    *parents, last = [k.replace("~1", "/").replace("~0", "~") for k in path.split("/")[1:]]
    node: Any = out
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is ...:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


def _strs(problems: list[SchemaProblem]) -> list[str]:
    return [str(p) for p in problems]


def test_typo_is_unknown_field_with_suggestion() -> None:
    model = ISVC["spec"]["predictor"]["model"]
    bad = _with(ISVC, "/spec/predictor/model/storageUri", ...)
    bad = _with(bad, "/spec/predictor/model/storageURI", model["storageUri"])
    assert check_object(bad) == [
        SchemaProblem(
            "/spec/predictor/model/storageURI", "unknown field (did you mean storageUri?)"
        )
    ]
    assert _strs(check_object(bad)) == [
        "spec.predictor.model.storageURI: unknown field (did you mean storageUri?)"
    ]


def test_wrong_type_is_rejected() -> None:
    bad = _with(ISVC, "/spec/predictor/minReplicas", "two")
    assert _strs(check_object(bad)) == [
        "spec.predictor.minReplicas: 'two' is not of type 'integer'"
    ]


def test_int_or_string_rejects_bool() -> None:
    bad = _with(CLUSTER_QUEUE, "/spec/resourceGroups/0/flavors/0/resources/1/nominalQuota", True)
    assert _strs(check_object(bad)) == [
        "spec.resourceGroups[0].flavors[0].resources[1].nominalQuota: "
        "true is not of type 'integer' or 'string'"
    ]
    limits = _with(ISVC, "/spec/predictor/model/resources/limits/nvidia.com~1gpu", True)
    assert [p.path for p in check_object(limits)] == [
        "/spec/predictor/model/resources/limits/nvidia.com~1gpu"
    ]


def test_core_quota_rejects_bool_and_bad_quantity() -> None:
    bad = _with(RESOURCE_QUOTA, "/spec/hard/requests.nvidia.com~1gpu", True)
    bad = _with(bad, "/spec/hard/pods", "100 pods")
    assert _strs(check_object(bad)) == [
        "spec.hard.pods: '100 pods' is not a quantity (such as 500m, 2, 1.5Gi)",
        "spec.hard[\"requests.nvidia.com/gpu\"]: true is not of type 'string' or 'number'",
    ]


def test_core_kind_is_strict() -> None:
    bad = _with(RESOURCE_QUOTA, "/spec/hardd", {"cpu": "1"})
    assert _strs(check_object(bad)) == ["spec.hardd: unknown field (did you mean hard?)"]
    meta = _with(RESOURCE_QUOTA, "/metadata/label", {"a": "b"})
    assert _strs(check_object(meta)) == ["metadata.label: unknown field (did you mean labels?)"]


def test_crd_metadata_is_checked_as_object_meta() -> None:
    bad = _with(CLUSTER_QUEUE, "/metadata/lables", {"a": "b"})
    assert _strs(check_object(bad)) == ["metadata.lables: unknown field (did you mean labels?)"]
    bad = _with(CLUSTER_QUEUE, "/metadata/labels", {"a": 1})
    assert _strs(check_object(bad)) == ["metadata.labels.a: 1 is not of type 'string'"]


def test_missing_required_field() -> None:
    bad = _with(ISVC, "/spec/predictor/model/modelFormat/name", ...)
    bad = _with(bad, "/spec/predictor/model/modelFormat/nmae", "xgboost")
    assert _strs(check_object(bad)) == [
        "spec.predictor.model.modelFormat: missing required field 'name'",
        "spec.predictor.model.modelFormat.nmae: unknown field (did you mean name?)",
    ]
    no_spec = _with(PROMETHEUS_RULE, "/spec", ...)
    assert _strs(check_object(no_spec)) == ["missing required field 'spec'"]


def test_deprecated_kueue_version_is_refused() -> None:
    old = _with(CLUSTER_QUEUE, "/apiVersion", "kueue.x-k8s.io/v1beta1")
    assert check_object(old) == [
        SchemaProblem(
            "/apiVersion",
            "kueue.x-k8s.io/v1beta1 ClusterQueue is deprecated; use kueue.x-k8s.io/v1beta2",
        )
    ]


def test_unknown_version_of_known_crd() -> None:
    bad = _with(ISVC, "/apiVersion", "serving.kserve.io/v1alpha9")
    assert _strs(check_object(bad)) == [
        "apiVersion: no schema for serving.kserve.io/v1alpha9 InferenceService;"
        " use serving.kserve.io/v1beta1"
    ]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("example.com/v1", "Widget"),
        ("batch/v1beta1", "CronJob"),
        ("apps.example.com/v1", "Deployment"),
    ],
)
def test_unknown_kind_is_refused(api_version: str, kind: str) -> None:
    assert _strs(check_object(_obj(api_version, kind, {}))) == [
        f"no schema for {api_version} {kind}; mlspec cannot check it"
    ]


def test_missing_api_version_or_kind() -> None:
    obj = {"metadata": {"name": "x"}}
    assert [p.path for p in check_object(obj)] == ["/apiVersion", "/kind"]


def test_prometheus_rule_go_regex() -> None:
    for strategy in ("Warn", "abort", "WARN", ""):
        assert (
            check_object(
                _with(PROMETHEUS_RULE, "/spec/groups/0/partial_response_strategy", strategy)
            )
            == []
        )
    bad = _with(PROMETHEUS_RULE, "/spec/groups/0/partial_response_strategy", "bogus")
    assert _strs(check_object(bad)) == [
        "spec.groups[0].partial_response_strategy: 'bogus' does not match '^(?i)(abort|warn)?$'"
    ]
    duration = _with(PROMETHEUS_RULE, "/spec/groups/0/rules/0/for", "5 minutes")
    assert [p.path for p in check_object(duration)] == ["/spec/groups/0/rules/0/for"]


def test_pattern_uses_go_semantics_for_dollar() -> None:
    # Python's re lets '$' match before a trailing newline; Go's regexp does not.
    bad = _with(PROMETHEUS_RULE, "/spec/groups/0/partial_response_strategy", "warn\n")
    assert [p.path for p in check_object(bad)] == ["/spec/groups/0/partial_response_strategy"]


@pytest.mark.parametrize(
    ("obj", "name", "expected"),
    [
        (CLUSTER_QUEUE, "Team_A", "'Team_A' must be a lowercase RFC 1123 subdomain"),
        (CLUSTER_QUEUE, "a" * 254, "is 254 characters long; the limit is 253"),
        (NAMESPACE, "team.a", "'team.a' must be a lowercase RFC 1123 label"),
        (ISVC, "fraud.v2", "'fraud.v2' must match [a-z]([-a-z0-9]*[a-z0-9])? (KServe webhook)"),
        (CRON_JOB, "r" * 53, "is 53 characters long; the limit is 52"),
    ],
)
def test_bad_metadata_name_is_rejected(obj: dict[str, Any], name: str, expected: str) -> None:
    problems = check_object(_with(obj, "/metadata/name", name))
    assert [p.path for p in problems] == ["/metadata/name"]
    assert expected in problems[0].message


def test_metadata_name_and_labels_syntax() -> None:
    assert _strs(check_object(_with(ISVC, "/metadata/name", ...))) == [
        "metadata: missing required field 'name'"
    ]
    labels = {"Bad Key": "x", "example.com/ok": "-bad-", "UPPER.example/x": "ok"}
    problems = check_object(_with(ISVC, "/metadata/labels", labels))
    assert [p.path for p in problems] == [
        "/metadata/labels/Bad Key",
        "/metadata/labels/UPPER.example~1x",
        "/metadata/labels/example.com~1ok",
    ]
    bad_ns = check_object(_with(ISVC, "/metadata/namespace", "Team-A"))
    assert [p.path for p in bad_ns] == ["/metadata/namespace"]


def test_memoised_syntax_checks_tell_equal_keys_of_other_types_apart() -> None:
    # 1 == True and hash(1) == hash(True): the memo of key checks must not mix them up.
    for _ in range(2):
        one = check_object(_with(CLUSTER_QUEUE, "/metadata/labels", {1: "x", "a": "-bad-"}))
        true = check_object(_with(CLUSTER_QUEUE, "/metadata/annotations", {True: "x"}))
        assert [p.message for p in one if p.path == "/metadata/labels/1"] == [
            "label key 1 is not a string"
        ]
        assert "label value '-bad-' must be alphanumeric" in one[-1].message
        assert [p.message for p in true if p.path == "/metadata/annotations/True"] == [
            "annotation key true is not a string"
        ]
    quantity = gopatterns.go_search(gopatterns.QUANTITY_PATTERN)
    assert [quantity(v) for v in ("1Gi", "1 Gi", "1Gi")] == [True, False, True]


def test_null_is_rejected_unless_nullable() -> None:
    bad = _with(ISVC, "/spec/predictor/minReplicas", None)
    assert _strs(check_object(bad)) == ["spec.predictor.minReplicas: null is not of type 'integer'"]


def test_crash_is_a_failure_not_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(api_version: str, kind: str) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(kubeschema, "_schema", boom)
    assert check_object(ISVC) == [SchemaProblem("", "schema check crashed: RuntimeError: kaboom")]
    assert check_object("not a mapping") != []  # type: ignore[arg-type]


def test_check_objects_keys_by_path() -> None:
    bad = _with(ISVC, "/spec/predictor/minReplicas", "two")
    results = check_objects([("a.yaml", ISVC), ("b.yaml", bad), ("b.yaml", RESOURCE_QUOTA)])
    assert list(results) == ["a.yaml", "b.yaml"]
    assert results["a.yaml"] == []
    assert _strs(results["b.yaml"]) == [
        "spec.predictor.minReplicas: 'two' is not of type 'integer'"
    ]


def test_checking_does_not_import_jsonschema() -> None:
    """jsonschema is only the fallback for a schema the fast validator refuses (none
    shipped), and importing it costs a tenth of a second."""
    code = (
        "import sys\n"
        "from mlspec.output.kubeschema import check_object\n"
        f"assert check_object({ISVC!r}) == check_object({RESOURCE_QUOTA!r}) == []\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- the shipped CRDs -------------------------------------------------------------------


_SOURCES_ROW = re.compile(r"^\| `([^`]+\.yaml)` \| (\d+) \|.*\| `([0-9a-f]{16})…` \|$", re.M)


def test_shipped_crds_match_their_provenance() -> None:
    """Byte-for-byte upstream copies: size and sha256 as recorded in SOURCES.md."""
    rows = _SOURCES_ROW.findall((CRDS / "SOURCES.md").read_text(encoding="utf-8"))
    assert {row[0] for row in rows} == {str(p.relative_to(CRDS)) for p in CRDS.rglob("*.yaml")}
    for relpath, size, sha_prefix in rows:
        data = (CRDS / relpath).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == (int(size), sha_prefix)


def test_crd_table_matches_files() -> None:
    files = {str(p.relative_to(CRDS)) for p in CRDS.rglob("*.yaml")}
    assert set(strictcrd.CRD_FILES.values()) == files
    for (group, kind), relpath in strictcrd.CRD_FILES.items():
        spec = strictcrd._load_crd(relpath)["spec"]
        assert (spec["group"], spec["names"]["kind"]) == (group, kind)


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_converted_crd_schema_is_well_formed() -> None:
    """Validators are built without check_schema (seconds for the big CRDs): check here.

    Draft 7's metaschema stands in for 2020-12's, whose dynamic references make the
    check ~6x slower; the converted schemas use only keywords the two drafts share.
    """
    meta = jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA)
    for relpath in strictcrd.CRD_FILES.values():
        for version in strictcrd._load_crd(relpath)["spec"]["versions"]:
            schema = strictcrd._strict(version["schema"]["openAPIV3Schema"])
            assert list(meta.iter_errors(schema)) == [], (relpath, version["name"])
            for pattern in set(_patterns(schema)):
                re2.compile(pattern)


def test_strict_conversion_rules() -> None:
    strict = strictcrd._strict(
        {
            "type": "object",
            "description": "dropped",
            "properties": {
                "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
                "open": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"a": {"type": "string"}},
                },
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "legacy": {"type": "string", "format": "int-or-string"},
                "maybe": {"type": "string", "enum": ["a"], "nullable": True},
                "above": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                "embedded": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
            },
        }
    )
    props = strict["properties"]
    assert strict["additionalProperties"] is False
    assert "description" not in strict
    assert props["closed"]["additionalProperties"] is False
    assert "additionalProperties" not in props["open"]
    assert props["map"]["additionalProperties"] == {"type": "string"}
    assert props["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "type" not in props["legacy"] and props["legacy"]["anyOf"]
    assert props["maybe"]["type"] == ["string", "null"] and props["maybe"]["enum"] == ["a", None]
    assert props["above"] == {"type": "integer", "exclusiveMinimum": 0}
    assert set(props["embedded"]["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert props["embedded"]["additionalProperties"] is False


def test_python_re_cannot_compile_the_prometheus_pattern() -> None:
    """Why RE2 is a dependency: if this ever passes, Python's re caught up."""
    with pytest.raises(re.error):
        re.compile("^(?i)(abort|warn)?$")


def test_precompiled_strict_schemas_are_fresh() -> None:
    """crds/strict/*.json are derived from the shipped CRDs; regenerate them with
    `python -m mlspec.output.kubeschema` after updating a CRD."""
    from importlib import resources

    from mlspec.output.kubeschema import STRICT_DIR, compiled_crd_files

    folder = resources.files("mlspec").joinpath("crds", STRICT_DIR)
    shipped = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    assert shipped == compiled_crd_files()
