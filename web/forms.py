"""Forms: the login form (Flask-WTF), and inputs generated from a workflow's FieldDefs.

Field inputs are plain HTML built from the YAML's field types; the engine parses
and validates what comes back (engine/language/fields.py), so there is one set of rules and
one set of Chinese messages. Forms carry `novalidate`: the server's messages, shown
next to each field, are the ones people see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.language.definition import FieldDef, WorkflowDefinition

MAX_COMMENT = 2000

# field type → (input type, inputmode); text → textarea, enum/boolean → select.
_INPUTS: dict[str, tuple[str, str | None]] = {
    "string": ("text", None),
    "user": ("text", None),
    "phone": ("tel", "tel"),
    "integer": ("text", "numeric"),
    "decimal": ("text", "decimal"),
    "date": ("date", None),
    "datetime": ("datetime-local", None),
}
_HINTS = {"decimal": "如 1280.50", "integer": "整数", "phone": "如 13812345678", "datetime": "日期和时间"}


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


def as_text(field: FieldDef, value: Any, tz: tzinfo) -> str:
    """A stored value as an input's text (datetimes in the estate's local time)."""
    if value is None:
        return ""
    if field.type == "boolean":
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def widget(field: FieldDef, value: str, error: str | None = None, required: bool = False) -> Widget:
    """The input for one field, showing `value`."""
    common = {"name": field.name, "label": field.label, "required": required or field.required,
              "value": value, "error": error}
    if field.type == "text":
        return Widget(kind="textarea", **common)
    if field.type == "enum":
        return Widget(kind="select", options=(("", "请选择"), *field.options.items()), **common)
    if field.type == "boolean":
        return Widget(kind="select", options=(("", "请选择"), ("true", "是"), ("false", "否")), **common)
    input_type, inputmode = _INPUTS.get(field.type, ("text", None))
    return Widget(kind="input", input_type=input_type, inputmode=inputmode, hint=_HINTS.get(field.type), **common)


def widgets(definition: WorkflowDefinition, names: Iterable[str], stored: Mapping[str, Any], tz: tzinfo,
            submitted: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
            required: Iterable[str] = ()) -> list[Widget]:
    """Inputs for `names`: the submitted text when re-showing a form, else the stored value."""
    must = set(required)
    result = []
    for name in names:
        field = definition.fields[name]
        text = submitted[name] if submitted is not None and name in submitted else as_text(field, stored.get(name), tz)
        result.append(widget(field, text, (errors or {}).get(name), name in must))
    return result


def field_data(form: MultiDict[str, str], names: Iterable[str]) -> dict[str, str]:
    """The submitted values of `names` only, blanks left out (an unset field stays unset).

    Other names in a forged POST are ignored: a step changes only what its form asks for.
    """
    return {name: form[name] for name in names if name in form and form[name].strip() != ""}


def comment(form: MultiDict[str, str]) -> str | None:
    """The step's comment, trimmed and bounded; None when empty."""
    text = (form.get("comment") or "").strip()[:MAX_COMMENT]
    return text or None
