"""Cross-reference checks on a validated platform, each reported at its own line.

Every reference in the spec (tenant, pool, template, model, version or alias,
deployment, step output, pipeline) must resolve, and the names mlspec derives
from spec names must still be valid Kubernetes names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from mlspec.diagnostics import Diagnostic, Severity, safe_text
from mlspec.spec.model import GpuRequest, Parameter, Pipeline, Platform, Step
from mlspec.spec.names import dns1035_label_problem
from mlspec.spec.source import SourceMap, escape_token
from mlspec.spec.templates import PLACEHOLDER

CRONJOB_NAME_MAX = 52  # Kubernetes appends 11 characters to a CronJob's job names
_ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass
class _Checker:
    platform: Platform
    sources: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(
        self,
        code: str,
        ptr: str,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
        severity: Severity = Severity.ERROR,
    ) -> None:
        location = self.sources.key_location(ptr) if at_key else self.sources.value_location(ptr)
        self.diagnostics.append(Diagnostic(code, message, location, ptr, hint, severity))

    def expect(
        self,
        code: str,
        ptr: str,
        kind: str,
        name: str,
        known: Collection[str],
        *,
        at_key: bool = False,
    ) -> bool:
        """Report ``name`` unless it is one of ``known``; returns whether it resolved."""
        if name in known:  # the common case: no sorting, no copying
            return True
        options = sorted(known)
        close = difflib.get_close_matches(name, options, n=1)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif options:
            label = "known" if " of " in kind else f"known {kind}s"  # not "model Xs"
            hint = f"{label}: " + ", ".join(options[:10])
        else:
            hint = f"no {kind} is defined"
        self.report(code, ptr, f"unknown {kind} `{safe_text(name)}`", hint, at_key=at_key)
        return False


def check_references(platform: Platform, sources: SourceMap) -> list[Diagnostic]:
    checker = _Checker(platform, sources)
    _check_pools(checker)
    _check_tenants(checker)
    _check_pipelines(checker)
    _check_models(checker)
    _check_deployments(checker)
    _check_monitors(checker)
    _check_unused_templates(checker)
    return checker.diagnostics


def _ptr(*tokens: str | int) -> str:
    return "".join("/" + escape_token(t) for t in tokens)


def _check_pools(c: _Checker) -> None:
    for name, pool in c.platform.gpu_pools.items():
        sharing = pool.sharing
        if sharing is not None and sharing.mig is not None and sharing.time_slicing is not None:
            c.report(
                "MLS104",
                _ptr("gpuPools", name, "sharing"),
                f"GPU pool {name}: choose one of `mig` and `timeSlicing`, not both",
            )


def _check_tenants(c: _Checker) -> None:
    pools = c.platform.gpu_pools
    for name, tenant in c.platform.tenants.items():
        for section in ("gpu", "borrow"):
            for pool in getattr(tenant.quota, section):
                ptr = _ptr("tenants", name, "quota", section, pool)
                c.expect("MLS302", ptr, "GPU pool", pool, pools, at_key=True)
        for i, other in enumerate(tenant.network.allow_from):
            ptr = _ptr("tenants", name, "network", "allowFrom", i)
            c.expect("MLS301", ptr, "tenant", other, c.platform.tenants)


def _check_gpu_request(c: _Checker, ptr: str, request: GpuRequest) -> None:
    """The pool exists, and a MIG profile is named when (and only when) it must be."""
    if not c.expect("MLS302", f"{ptr}/pool", "GPU pool", request.pool, c.platform.gpu_pools):
        return
    sharing = c.platform.gpu_pools[request.pool].sharing
    profiles = sorted(sharing.mig.profiles) if sharing and sharing.mig else []
    if request.profile is not None:
        if not profiles:
            c.report("MLS104", f"{ptr}/profile", f"GPU pool {request.pool} is not a MIG pool")
        else:
            c.expect("MLS302", f"{ptr}/profile", "MIG profile", request.profile, profiles)
    elif len(profiles) > 1:
        c.report(
            "MLS102",
            ptr,
            f"GPU pool {request.pool} has several MIG profiles: name one in `profile`",
            "profiles: " + ", ".join(profiles),
            at_key=True,
        )


def _check_pipelines(c: _Checker) -> None:
    for name, pipeline in c.platform.pipelines.items():
        base = ("pipelines", name)
        c.expect("MLS301", _ptr(*base, "tenant"), "tenant", pipeline.tenant, c.platform.tenants)
        if not _check_pipeline_shape(c, name, pipeline):
            continue
        _check_parameters(c, base, pipeline.parameters)
        for step_name, step in pipeline.steps.items():
            _check_step(c, (*base, "steps", step_name), pipeline, step)
        for model, output in pipeline.produces.items():
            ptr = _ptr(*base, "produces", model)
            c.expect("MLS304", ptr, "model", model, c.platform.models, at_key=True)
            _check_output_ref(c, ptr, pipeline, output, want_type="Model")


def _check_pipeline_shape(c: _Checker, name: str, pipeline: Pipeline) -> bool:
    ptr = _ptr("pipelines", name)
    if pipeline.template is not None:
        known = c.platform.templates
        if not c.expect("MLS303", f"{ptr}/template", "template", pipeline.template, known):
            return False
    elif pipeline.with_:
        c.report("MLS503", f"{ptr}/with", "`with:` needs a `template:`", at_key=True)
    if not pipeline.steps:
        c.report("MLS102", ptr, f"pipeline {name} needs `steps:` or a `template:`", at_key=True)
        return False
    return True


def _check_parameters(c: _Checker, base: tuple[str, ...], parameters: dict[str, Parameter]) -> None:
    for name, parameter in parameters.items():
        ptr = _ptr(*base, "parameters", name)
        if parameter.type is None:
            c.report("MLS102", ptr, f"parameter {name}: missing `type`", at_key=True)
            continue
        default = parameter.default
        allowed = _PARAMETER_TYPES[parameter.type]
        wrong_bool = isinstance(default, bool) and parameter.type != "boolean"
        if default is not None and (wrong_bool or not isinstance(default, allowed)):
            c.report(
                "MLS103",
                f"{ptr}/default",
                f"parameter {name}: default {safe_text(default)!r} is not of type {parameter.type}",
            )


def _check_step(c: _Checker, base: tuple[str, ...], pipeline: Pipeline, step: Step) -> None:
    for input_name, ref in step.inputs.items():
        ptr = _ptr(*base, "inputs", input_name)
        producer = ref.split(".", 1)[0]
        if producer == base[-1]:
            c.report("MLS307", ptr, f"step {base[-1]} cannot consume its own output `{ref}`")
        else:
            _check_output_ref(c, ptr, pipeline, ref)
    if step.resources is not None and step.resources.gpu is not None:
        _check_gpu_request(c, _ptr(*base, "resources", "gpu"), step.resources.gpu)
    _check_placeholders(c, base, pipeline, step)


def _check_output_ref(
    c: _Checker, ptr: str, pipeline: Pipeline, ref: str, want_type: str | None = None
) -> None:
    step_name, _, output = ref.partition(".")
    if not output:
        c.report("MLS307", ptr, f"`{safe_text(ref)}` must be `<step>.<output>`")
        return
    if not c.expect("MLS307", ptr, "step", step_name, pipeline.steps):
        return
    outputs = pipeline.steps[step_name].outputs
    if not c.expect("MLS307", ptr, f"output of step {step_name}", output, outputs):
        return
    if want_type is not None and outputs[output] != want_type:
        c.report(
            "MLS307",
            ptr,
            f"`{ref}` is a {outputs[output]}, not a {want_type}",
            f"declare it as `{output}: {want_type}` in step {step_name}",
        )


def _check_placeholders(c: _Checker, base: tuple[str, ...], pipeline: Pipeline, step: Step) -> None:
    known: dict[str, Collection[str]] = {
        "params": pipeline.parameters,
        "inputs": step.inputs,
        "outputs": step.outputs,
    }
    strings = [("image", step.image)]
    strings += [(f"command/{i}", s) for i, s in enumerate(step.command)]
    strings += [(f"args/{i}", s) for i, s in enumerate(step.args)]
    for rel, text in strings:
        ptr = _ptr(*base) + "/" + rel
        for namespace, name in PLACEHOLDER.findall(text):
            c.expect(
                "MLS309",
                ptr,
                namespace[:-1] if namespace != "params" else "parameter",
                name,
                known[namespace],
            )
        leftover = _ANY_PLACEHOLDER.search(PLACEHOLDER.sub("", text))
        if leftover:
            c.report(
                "MLS309",
                ptr,
                f"unknown placeholder {safe_text(leftover.group())!r}",
                "steps may use {{ params.x }}, {{ inputs.x }} and {{ outputs.x }}; "
                "other {{ values }} belong in a template",
            )


def _check_models(c: _Checker) -> None:
    for name, model in c.platform.models.items():
        c.expect(
            "MLS301", _ptr("models", name, "tenant"), "tenant", model.tenant, c.platform.tenants
        )
        for alias, version in model.aliases.items():
            ptr = _ptr("models", name, "aliases", alias)
            c.expect("MLS305", ptr, f"version of model {name}", str(version), model.versions)


def _check_deployments(c: _Checker) -> None:
    for name, deployment in c.platform.deployments.items():
        base = ("deployments", name)
        c.expect("MLS301", _ptr(*base, "tenant"), "tenant", deployment.tenant, c.platform.tenants)
        problem = dns1035_label_problem(name)
        if problem:
            c.report(
                "MLS202",
                _ptr(*base),
                f"deployment name {name!r} {problem}: KServe names InferenceServices so",
                f"try `d-{name}`" if name[:1].isdigit() else None,
                at_key=True,
            )
        replicas = deployment.replicas
        if replicas.min > replicas.max:
            c.report("MLS104", _ptr(*base, "replicas", "min"), "replicas.min is above replicas.max")
        if deployment.resources is not None and deployment.resources.gpu is not None:
            _check_gpu_request(c, _ptr(*base, "resources", "gpu"), deployment.resources.gpu)
        model = c.platform.models.get(deployment.model)
        if not c.expect(
            "MLS304", _ptr(*base, "model"), "model", deployment.model, c.platform.models
        ):
            continue
        assert model is not None
        refs = [("version", deployment.version)]
        if deployment.canary is not None:
            refs.append(("canary/version", deployment.canary.version))
        for rel, ref in refs:
            known = set(model.versions) | set(model.aliases)
            kind = f"version or alias of model {deployment.model}"
            c.expect("MLS305", _ptr(*base) + "/" + rel, kind, str(ref), known)


def _check_monitors(c: _Checker) -> None:
    for name, monitor in c.platform.monitors.items():
        base = ("monitors", name)
        c.expect("MLS301", _ptr(*base, "tenant"), "tenant", monitor.tenant, c.platform.tenants)
        deployments = c.platform.deployments
        c.expect("MLS306", _ptr(*base, "deployment"), "deployment", monitor.deployment, deployments)
        if monitor.on_drift is not None:
            ptr = _ptr(*base, "onDrift", "retrain")
            c.expect("MLS308", ptr, "pipeline", monitor.on_drift.retrain, c.platform.pipelines)
            if monitor.drift is None:
                c.report("MLS104", _ptr(*base, "onDrift"), "`onDrift` needs `drift:`", at_key=True)
        if monitor.drift is not None and len(f"{name}-drift") > CRONJOB_NAME_MAX:
            c.report(
                "MLS202",
                _ptr(*base),
                f"the drift CronJob name `{name}-drift` is over {CRONJOB_NAME_MAX} characters",
                "shorten the monitor name",
                at_key=True,
            )


def _check_unused_templates(c: _Checker) -> None:
    used = {p.template for p in c.platform.pipelines.values()}
    for name in c.platform.templates:
        if name not in used:
            c.report(
                "MLS312",
                _ptr("templates", name),
                f"template {name} is not used by any pipeline",
                severity=Severity.WARNING,
                at_key=True,
            )
