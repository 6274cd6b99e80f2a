"""Forms: the login form (Flask-WTF), and inputs generated from a workflow's FieldDefs.

Field inputs are plain HTML built from the YAML's field types; the engine parses
and validates what comes back (engine/language/fields.py), so there is one set of rules and
one set of Chinese messages. Forms carry `novalidate`: the server's messages, shown
next to each field, are the ones people see.

    widgets(definition, names, stored, tz, submitted=None, errors=None, required=(), *, options=None, estate=None)
    pickers(session, definition, names, estate_id, values=None) -> {field: [(username, display name)]}
    routed(session, definition, names, estate_id, values, unit_id=None) -> {field: username}

A `user` field is a <select> of the estate's staff holding the field's `roles`, by display
name (the login id is only the option's value), when the caller passes `options=pickers(...)`;
a `unit` field is a text input for the 房号 that static/units.js offers suggestions for (from
/units/suggest, the estate's units by number), and the engine checks it on the server. The
forms start a `user` field with `route:` filled in with the routed person (`routed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.language.definition import FieldDef, WorkflowDefinition
from engine.org import staff
from engine.runtime.routing import routed_user
from engine.store.models import Building, Unit, User

MAX_COMMENT = 2000

# field type → (input type, inputmode); text → textarea, enum/boolean → select.
_INPUTS: dict[str, tuple[str, str | None]] = {
    "string": ("text", None),
    "user": ("text", None),
    "unit": ("text", None),
    "phone": ("tel", "tel"),
    "integer": ("text", "numeric"),
    "decimal": ("text", "decimal"),
    "date": ("date", None),
    "datetime": ("datetime-local", None),
}
_HINTS = {"decimal": "如 1280.50", "integer": "整数", "phone": "如 13812345678", "datetime": "日期和时间",
          "unit": "房号，如 3-1-502"}
Options = Mapping[str, "list[tuple[str, str]] | tuple[tuple[str, str], ...]"]


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Username and password; the CSRF token comes with FlaskForm."""

    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=100)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


@dataclass(frozen=True, slots=True)
class Widget:
    """One generated input: what the template needs to draw it."""

    name: str
    label: str
    kind: str
    """'input', 'textarea' or 'select'."""
    input_type: str = "text"
    inputmode: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    value: str = ""
    hint: str | None = None
    error: str | None = None
    suggest: str | None = None
    """For a `unit` input: the estate whose units static/units.js suggests as the 房号 is typed."""
    accept: str | None = None
    """For a `file` input: what the file picker offers (web/files.py `accept_attribute`)."""
    multiple: bool = False


def as_text(field: FieldDef, value: Any, tz: tzinfo) -> str:
    """A stored value as an input's text (datetimes in the estate's local time)."""
    if value is None or field.type == "log":  # a log's input is the next entry: it starts empty
        return ""
    if field.type == "boolean":
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def widget(field: FieldDef, value: str, error: str | None = None, required: bool = False,
           options: list[tuple[str, str]] | tuple[tuple[str, str], ...] | None = None,
           estate: str | None = None) -> Widget:
    """The input for one field, showing `value`; `options` (value, label) make it a select."""
    common = {"name": field.name, "label": field.label, "required": required or field.required,
              "value": value, "error": error}
    if options is not None:
        listed = tuple(options)
        if value and value not in {key for key, _ in listed}:
            listed += ((value, value),)  # kept, not silently dropped: e.g. a person since disabled
        return Widget(kind="select", options=(("", "请选择"), *listed), **common)
    if field.type == "unit":
        return Widget(kind="input", input_type="text", hint=_HINTS["unit"], suggest=estate, **common)
    if field.type == "file":  # never pre-filled: a browser does not let a page choose a file
        from web.files import accept_attribute, accept_hint

        return Widget(kind="file", input_type="file", hint=accept_hint(field), accept=accept_attribute(field),
                      multiple=field.multiple, **{**common, "value": ""})
    if field.type in ("text", "log"):  # a log field's input is its next entry
        return Widget(kind="textarea", **common)
    if field.type == "enum":
        return Widget(kind="select", options=(("", "请选择"), *field.options.items()), **common)
    if field.type == "boolean":
        return Widget(kind="select", options=(("", "请选择"), ("true", "是"), ("false", "否")), **common)
    input_type, inputmode = _INPUTS.get(field.type, ("text", None))
    return Widget(kind="input", input_type=input_type, inputmode=inputmode, hint=_HINTS.get(field.type), **common)


def widgets(definition: WorkflowDefinition, names: Iterable[str], stored: Mapping[str, Any], tz: tzinfo,
            submitted: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
            required: Iterable[str] = (), *, options: Options | None = None,
            estate: str | None = None) -> list[Widget]:
    """Inputs for `names`: the submitted text when re-showing a form, else the stored value.

    `options` (pickers()) turns those fields into selects; `estate` lets `unit` inputs suggest its units.
    """
    must = set(required)
    picks = options or {}
    result = []
    for name in names:
        field = definition.fields[name]
        text = submitted[name] if submitted is not None and name in submitted else as_text(field, stored.get(name), tz)
        result.append(widget(field, text, (errors or {}).get(name), name in must, picks.get(name), estate))
    return result


def pickers(session: Session, definition: WorkflowDefinition, names: Iterable[str], estate_id: str,
            values: Mapping[str, Any] | None = None) -> dict[str, list[tuple[str, str]]]:
    """For each `user` field of `names`: (username, display name) of the estate's active staff holding one
    of the field's `roles` (any staff when it lists none). A stored person no longer listed keeps
    their name as an option, so re-showing the form does not change the field."""
    found: dict[str, list[tuple[str, str]]] = {}
    cache: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for name in names:
        field = definition.fields.get(name)
        if field is None or field.type != "user":
            continue
        key = tuple(sorted(field.roles))
        if key not in cache:
            cache[key] = [(m.username, m.display_name) for m in staff.staff_of(session, estate_id, key or None)]
        listed = list(cache[key])
        current = (values or {}).get(name)
        if isinstance(current, str) and current and current not in {u for u, _ in listed}:
            person = session.execute(select(User.display_name, User.active).where(User.username == current)).first()
            if person is not None:
                listed.append((current, person.display_name + ("" if person.active else "（已停用）")))
        found[name] = listed
    return found


def routed(session: Session, definition: WorkflowDefinition, names: Iterable[str], estate_id: str,
           values: Mapping[str, Any], unit_id: int | None = None) -> dict[str, str]:
    """The person each empty `user` field with `route:` starts with (engine/runtime/routing.py), by
    the estate's routing table, the values so far and the building of the item's unit."""
    building = _building(session, definition, estate_id, values, unit_id)
    found: dict[str, str] = {}
    for name in names:
        field = definition.fields.get(name)
        if field is None or field.type != "user" or not field.route or values.get(name):
            continue
        person = routed_user(session, estate_id, field.route, values, building)
        if person:
            found[name] = person
    return found


def _building(session: Session, definition: WorkflowDefinition, estate_id: str, values: Mapping[str, Any],
              unit_id: int | None) -> str | None:
    """The building name of the item's unit: by id, else by the value of the definition's `unit` field."""
    stmt = select(Building.name).join(Unit, Unit.building_id == Building.id)
    if unit_id is not None:
        return session.scalar(stmt.where(Unit.id == unit_id))
    for name, field in definition.fields.items():
        number = values.get(name)
        if field.type == "unit" and isinstance(number, str) and number:
            return session.scalar(stmt.where(Unit.estate_id == estate_id, Unit.number == number))
    return None


def field_data(form: MultiDict[str, str], names: Iterable[str]) -> dict[str, str]:
    """The submitted values of `names` only, blanks left out (an unset field stays unset).

    Other names in a forged POST are ignored: a step changes only what its form asks for.
    """
    return {name: form[name] for name in names if name in form and form[name].strip() != ""}


def narrowed(definition: WorkflowDefinition, kept: Mapping[str, Iterable[str]],
             submitted: Mapping[str, str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Select options (id, label) of the enum fields a branch narrows to the ids in `kept`; a value typed
    before (the form shown again) stays an option with its label, so re-showing a form changes nothing."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name, ids in kept.items():
        spec = definition.fields.get(name)
        if spec is None:
            continue
        typed = submitted.get(name) if submitted is not None else None
        wanted = {*ids, *([typed] if typed in spec.options else [])}
        found[name] = [(key, label) for key, label in spec.options.items() if key in wanted]
    return found


def branch(form: MultiDict[str, str]) -> int | None:
    """The branch a button stands for (its index in `transitions`); None when the form names none.

    A forged value is harmless: fire() honours a branch only if it is one of the step's, the
    roles allow it and its condition holds.
    """
    text = (form.get("branch") or "").strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def comment(form: MultiDict[str, str]) -> str | None:
    """The step's comment, trimmed and bounded; None when empty."""
    text = (form.get("comment") or "").strip()[:MAX_COMMENT]
    return text or None
