"""The mapping sandbox alone: what a template may do, what it is refused, how long it may run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from warroom.errors import ApiError
from warroom.intake.mapping import (
    FALLBACK_PREFIX,
    MappingCache,
    MappingFieldError,
    MappingSpec,
    compile_mapping,
    compiled,
    validate,
)

GRAFANA = {
    "title": "[FIRING:1] HighCPU web-1",
    "status": "firing",
    "groupKey": '{}:{alertname="HighCPU"}',
    "commonLabels": {"alertname": "HighCPU", "severity": "critical", "instance": "web-1"},
    "items": "a JSON key named like a dict method",
}


def apply(summary: str, payload: Any = GRAFANA, **fields: Any) -> Any:
    return compile_mapping(MappingSpec(summary=summary, **fields)).apply(payload)


def test_a_payload_becomes_an_event() -> None:
    event = apply(
        "{{ title }}",
        severity="{{ commonLabels.severity }}",
        dedup_key="{{ groupKey }}",
        source="{{ commonLabels.instance }}",
        labels={"alertname": "{{ payload.commonLabels.alertname }}"},
    )
    assert (event.action, event.summary, event.severity) == (
        "trigger",
        "[FIRING:1] HighCPU web-1",
        "critical",
    )
    assert event.dedup_key == '{}:{alertname="HighCPU"}'
    assert event.source == "web-1" and event.labels == {"alertname": "HighCPU"}
    assert event.errors == []


def test_a_json_key_wins_over_a_dict_method_and_methods_still_work() -> None:
    assert apply("{{ payload.items }}").summary == "a JSON key named like a dict method"
    listed = apply("{% for k, v in commonLabels.items() %}{{ k }}={{ v }} {% endfor %}")
    assert listed.summary == "alertname=HighCPU severity=critical instance=web-1"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ range.__globals__ }}",
        "{{ payload.__class__.__base__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ title.__len__() }}",
        "{{ '{0.__class__}'.format(title) }}",
        "{{ title.format_map({}) }}",
        "{{ '%s' % title }}",
        "{{ config }}{{ request }}",
    ],
)
def test_template_injection_is_refused(template: str) -> None:
    event = apply(template)
    assert event.unmapped
    assert event.summary.startswith(FALLBACK_PREFIX + "summary: ")
    assert "class" not in event.summary.split(":", 2)[-1].replace("'__class__'", "")


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macros"),
        ("{% include 'x' %}", "include"),
        ("{% import 'x' as y %}", "import"),
        ("{% extends 'base.html' %}", "extends"),
        ("{% for i in [1] recursive %}{{ loop(i) }}{% endfor %}", "recursive"),
        ("{{ title", "unexpected end of template"),
        ("{{ title|attr('upper') }}", "No filter named 'attr'"),
    ],
)
def test_what_a_mapping_cannot_use_is_refused_when_compiled(template: str, why: str) -> None:
    with pytest.raises(MappingFieldError) as refused:
        compile_mapping(MappingSpec(summary=template))
    assert refused.value.field == "summary" and why in refused.value.message


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
        "{% endfor %}{% endfor %}{% endfor %}x",
        "{% for a in range(10000) %}{% for b in range(10000) %}{% if a < 0 %}{{ a }}{% endif %}"
        "{% endfor %}{% endfor %}",
    ],
)
def test_a_loop_of_a_billion_steps_is_stopped_by_the_time_budget(template: str) -> None:
    started = time.perf_counter()
    event = apply(template)
    assert time.perf_counter() - started < 1.0
    assert event.unmapped and "ran out of time" in event.errors[0]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{{ range(1000000000)|list }}", "range() is limited to 10000 items"),
        ("{{ 'a' * 1000000000 }}", "a repeat may build at most"),
        ("{{ [1, 2] * 1000000000 }}", "a repeat may build at most"),
        ("{{ 9 ** 999999999 }}", "the power is too large"),
        ("{{ title.center(999999999) }}", "'center'"),
        ("{{ title|replace('', 'x' * 50000) }}", "replace may build at most"),
        ("{{ '{:>999999999}'.format(1) }}", "'format'"),
    ],
)
def test_values_that_would_be_huge_are_refused(template: str, why: str) -> None:
    started = time.perf_counter()
    event = apply(template)
    assert time.perf_counter() - started < 1.0
    assert event.unmapped and why in event.errors[0]


def test_a_missing_field_is_an_error_unless_the_template_says_it_is_optional() -> None:
    missing = apply("{{ titel }}")
    assert missing.errors == ["summary: 'titel' is undefined"]
    nested = apply("{{ commonLabels.team }}")
    assert "has no attribute 'team'" in nested.errors[0]
    optional = apply(
        "{{ titel | default('no title') }} {{ 'y' if team is defined else 'n' }} "
        "{{ commonLabels.get('team', '-') }}"
    )
    assert optional.summary == "no title n -" and not optional.errors


def test_outputs_are_bounded() -> None:
    long = apply("{% for i in range(5000) %}word {% endfor %}", source="{{ 'h' * 1000 }}")
    assert len(long.summary) == 1024 and long.summary.endswith("…") and not long.errors
    assert len(long.source) == 255
    key = apply("{{ title }}", dedup_key="{{ 'k' * 300 }}")
    assert key.errors == ["dedup_key: longer than 255 characters"]
    assert key.dedup_key.startswith("unmapped-")


def test_severity_must_be_one_of_the_four() -> None:
    assert apply("x", severity="{{ 'CRITICAL ' }}").severity == "critical"
    assert apply("x").severity == "error"
    wrong = apply("x", severity="{{ 'high' }}")
    assert wrong.severity == "error"
    assert wrong.errors == [
        "severity: the template gave 'high', not one of critical, error, warning, info"
    ]


def test_resolve_when_makes_the_event_a_resolve_of_its_key() -> None:
    mapping = compile_mapping(
        MappingSpec(
            summary="{{ title }}", dedup_key="{{ groupKey }}", resolve_when="status == 'resolved'"
        )
    )
    assert mapping.apply(GRAFANA).action == "trigger"
    resolved = mapping.apply({**GRAFANA, "status": "resolved", "title": None})
    assert (resolved.action, resolved.dedup_key) == ("resolve", GRAFANA["groupKey"])
    with pytest.raises(MappingFieldError) as refused:
        compile_mapping(MappingSpec(summary="x", resolve_when="status == 'ok'"))
    assert refused.value.field == "dedup_key"


def test_a_failing_event_keeps_a_stable_key_made_from_its_payload() -> None:
    mapping = compile_mapping(MappingSpec(summary="{{ nope }}"))
    first, again = mapping.apply(GRAFANA), mapping.apply(dict(GRAFANA))
    assert first.dedup_key == again.dedup_key and first.dedup_key.startswith("unmapped-")
    assert mapping.apply({**GRAFANA, "status": "x"}).dedup_key != first.dedup_key
    keyed = compile_mapping(MappingSpec(summary="{{ nope }}", dedup_key="{{ groupKey }}"))
    assert keyed.apply(GRAFANA).dedup_key == GRAFANA["groupKey"]


def test_save_time_validation_names_the_field_and_tries_the_sample() -> None:
    with pytest.raises(ApiError) as refused:
        validate(MappingSpec(summary="{{ title }}", severity="{{ level }}", sample=GRAFANA))
    assert refused.value.status == 422
    assert refused.value.details == [
        {
            "field": "mapping.severity",
            "message": "fails on the sample payload: 'level' is undefined",
        }
    ]
    with pytest.raises(ApiError) as broken:
        validate(MappingSpec(summary="{{ title }", sample=GRAFANA))
    assert broken.value.details[0]["field"] == "mapping.summary"
    with pytest.raises(ApiError) as label:
        validate(MappingSpec(summary="x", labels={"bad name": "x"}))
    assert label.value.details[0]["field"] == "mapping.labels"
    validate(MappingSpec(summary="{{ title }}", sample=[GRAFANA, GRAFANA]))


def test_templates_are_compiled_once_per_mapping() -> None:
    spec = MappingSpec(summary="{{ title }} cached", sample={"a": 1})
    assert compiled(spec) is compiled(MappingSpec(summary="{{ title }} cached"))
    loads: list[str] = []
    now = [0.0]

    def load(key: str) -> tuple[int, dict[str, Any] | None] | None:
        loads.append(key)
        return (7, spec.stored()) if key == "mapped" else None

    cache = MappingCache(load, ttl=5, size=2, clock=lambda: now[0])
    first = cache.get("mapped")
    assert first.integration_id == 7 and first.mapping is compiled(spec)
    for _ in range(100):
        assert cache.get("mapped") is first
    assert cache.get("unknown").mapping is None and loads == ["mapped", "unknown"]
    now[0] = 6.0
    cache.get("mapped")
    assert loads == ["mapped", "unknown", "mapped"]
    cache.forget("mapped")
    cache.get("mapped")
    cache.get("a"), cache.get("b")
    assert cache.cached("mapped") is None  # evicted: the cache holds at most `size` keys
