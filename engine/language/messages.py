"""Text messages to residents: the template catalogue and the checks of `notify: {resident: ...}`.

`workflows/messages.yaml` holds every estate's templates; `workflows/estates/<estate>/_messages.yaml`
changes them for one estate (merged by key: a variable, or a template's label, text or consent):

    variables: {company: 物业服务中心, service_phone: "400-000-0000"}
    templates:
      dispatched: {label: 派单通知, text: "【{company}】您的报修{number}已派工……"}
      payment_reminder: {label: 缴费提醒, consent: required, text: "……"}

A text's placeholders are the item's fields, its attributes ({number}, {title}, {state}, {estate})
and the variables. `consent: required` marks a message the resident must have agreed to (缴费提醒);
the default, `service`, is about the resident's own request and goes unless the phone opted out
(engine/runtime/resident_messages.py applies the rule).

    Catalogue.of(document) / catalogue.render(id, values)   the compiled catalogue
    merge(base, override)                                   an estate's catalogue document
    problems(document, smap, estate_file=...)               what is wrong with a messages file
    workflow_problems(document, smap, catalogue)            what is wrong with a workflow's resident notifies
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.errors import ExpressionError, Path, Problem
from engine.language import schema
from engine.language.schema import suggest
from engine.language.source import SourceMap
from engine.language.templates import ITEM_ATTRIBUTES, Template, parse_template

__all__ = [
    "CONSENT_REQUIRED", "CONSENT_SERVICE", "ESTATE_MESSAGES_FILE", "MESSAGES_FILE", "Catalogue", "MessageTemplate",
    "has_resident_notify", "merge", "problems", "workflow_problems",
]

MESSAGES_FILE = "messages.yaml"
ESTATE_MESSAGES_FILE = "_messages.yaml"
SCHEMA = "messages.schema.json"
CONSENT_SERVICE = "service"
CONSENT_REQUIRED = "required"


class _AnyName(dict[str, Any]):
    """Every name is known: a messages file is checked for syntax alone (fields differ per workflow)."""

    def __contains__(self, _name: object) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """One resident template: what staff read (label), what is sent (text), whose consent it needs."""

    id: str
    label: str
    text: Template
    consent: str = CONSENT_SERVICE

    @property
    def needs_consent(self) -> bool:
        """Sent only to a phone whose consent is recorded (not merely one that has not opted out)."""
        return self.consent == CONSENT_REQUIRED


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The templates and variables of one estate (or of every estate: the base file)."""

    variables: Mapping[str, str] = field(default_factory=dict)
    templates: Mapping[str, MessageTemplate] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Any) -> Catalogue:
        """The catalogue of a checked (or stored) document; malformed entries are left out."""
        if not isinstance(document, Mapping):
            return cls()
        raw_vars = document.get("variables")
        variables = {str(k): str(v) for k, v in raw_vars.items()} if isinstance(raw_vars, Mapping) else {}
        templates: dict[str, MessageTemplate] = {}
        raw = document.get("templates")
        for name, spec in (raw.items() if isinstance(raw, Mapping) else ()):
            if not isinstance(spec, Mapping) or not isinstance(spec.get("text"), str):
                continue
            try:
                text = parse_template(spec["text"], _AnyName())
            except ExpressionError:
                continue
            consent = spec.get("consent") if spec.get("consent") in (CONSENT_SERVICE, CONSENT_REQUIRED) else None
            templates[str(name)] = MessageTemplate(str(name), str(spec.get("label") or name), text,
                                                   consent or CONSENT_SERVICE)
        return cls(MappingProxyType(variables), MappingProxyType(templates))

    def render(self, template_id: str, values: Mapping[str, Any]) -> str:
        """The text of `template_id` filled from the item's `values` (a field wins over a variable)."""
        return self.templates[template_id].text.render({**self.variables, **values})


def merge(base: Any, override: Any) -> dict[str, Any]:
    """An estate's catalogue document: `override` (its _messages.yaml) merged onto `base` by key."""
    base = base if isinstance(base, Mapping) else {}
    override = override if isinstance(override, Mapping) else {}
    result: dict[str, Any] = {"variables": {**(base.get("variables") or {}), **(override.get("variables") or {})},
                              "templates": {}}
    names = [*(base.get("templates") or {}), *(override.get("templates") or {})]
    for name in dict.fromkeys(names):
        result["templates"][name] = {**((base.get("templates") or {}).get(name) or {}),
                                     **((override.get("templates") or {}).get(name) or {})}
    return result


def problems(document: Any, smap: SourceMap, *, estate_file: bool = False) -> list[Problem]:
    """Every problem of a messages file: the schema's, each text's placeholders (syntax), and in the
    base file (not an estate's, which may change one key) a label and a text for every template."""
    found = schema.validate(document, smap, SCHEMA)
    refused = {p.path for p in found}
    templates = document.get("templates") if isinstance(document, dict) else None
    for name, spec in (templates.items() if isinstance(templates, dict) else ()):
        path: Path = ("templates", name)
        if not isinstance(spec, dict) or any(path[:n] in refused for n in range(1, 3)):
            continue
        if isinstance(spec.get("text"), str) and ("templates", name, "text") not in refused:
            try:
                parse_template(spec["text"], _AnyName())
            except ExpressionError as error:
                found.append(smap.problem((*path, "text"), error.message, code="template"))
        if not estate_file:
            missing = [key for key in ("label", "text") if key not in spec]
            if missing:
                found.append(smap.problem(path, f"a template needs {' and '.join(missing)}", code="template"))
    return sorted(set(found))


def _resident_notifies(document: Any) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    transitions = document.get("transitions") if isinstance(document, Mapping) else None
    for t, transition in enumerate(transitions if isinstance(transitions, list) else ()):
        actions = transition.get("actions") if isinstance(transition, Mapping) else None
        for a, action in enumerate(actions if isinstance(actions, list) else ()):
            notify = action.get("notify") if isinstance(action, Mapping) else None
            if isinstance(notify, Mapping) and "resident" in notify:
                yield ("transitions", t, "actions", a, "notify"), notify


def has_resident_notify(document: Any) -> bool:
    """Whether a workflow texts residents (only then is the messages file read)."""
    return any(True for _ in _resident_notifies(document))


def workflow_problems(document: Any, smap: SourceMap, catalogue: Catalogue | None,
                      where: str = MESSAGES_FILE) -> Iterator[Problem]:
    """Each `notify: {resident: FIELD, template: ID}` of a workflow: FIELD is a phone field, ID a template
    of `catalogue` (None: the folder has no messages file), whose placeholders the workflow can fill."""
    raw_fields = document.get("fields") if isinstance(document, Mapping) else None
    fields = raw_fields if isinstance(raw_fields, Mapping) else {}
    for path, notify in _resident_notifies(document):
        if "roles" in notify or "user" in notify:
            yield smap.problem(path, "a message to a resident goes to the resident alone: write a second notify "
                               "for 'roles' or 'user'", code="notify")
        name = notify.get("resident")
        if isinstance(name, str):
            spec = fields.get(name)
            phones = [n for n, f in fields.items() if isinstance(f, Mapping) and f.get("type") == "phone"]
            if spec is None:
                yield smap.problem((*path, "resident"), f"unknown field '{name}'{suggest(name, list(fields))}"
                                   f" (the phone fields: {', '.join(phones) or 'none'})", code="unknown_field")
            elif not isinstance(spec, Mapping) or spec.get("type") != "phone":
                hint = f" (the phone fields: {', '.join(phones)})" if phones else " (the workflow has none)"
                yield smap.problem((*path, "resident"), f"field '{name}' is not a phone field: a text message "
                                   f"needs a number{hint}", code="notify")
        template_id = notify.get("template")
        if not isinstance(template_id, str):
            continue
        if catalogue is None:
            yield smap.problem((*path, "template"), f"template '{template_id}' is not defined: there is no "
                               f"{where} (a resident message names a template of that file)", code="template")
            continue
        template = catalogue.templates.get(template_id)
        if template is None:
            known = ", ".join(f"{t.id}（{t.label}）" for t in catalogue.templates.values())
            yield smap.problem((*path, "template"), f"unknown template '{template_id}'"
                               f"{suggest(template_id, list(catalogue.templates))} (the templates of {where}: "
                               f"{known or 'none'})", code="template")
            continue
        for placeholder in template.text.placeholders:
            if placeholder not in fields and placeholder not in ITEM_ATTRIBUTES \
                    and placeholder not in catalogue.variables:
                yield smap.problem((*path, "template"), f"template '{template_id}' uses {{{placeholder}}}, which is "
                                   f"not a field of this workflow, an item attribute ({', '.join(ITEM_ATTRIBUTES)}) "
                                   f"or a variable of {where}", code="template")
