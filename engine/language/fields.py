"""Field values by type: parsing what people and files submit, storing, masking.

A field's runtime value is one of: str (string, text, enum option key, phone,
user name, unit number), int, Decimal, bool, date, aware datetime; None means unset. `parse`
accepts Python values, YAML numbers (also for decimals) and form strings, and
raises ValueError with a short Chinese message on bad input (values out of the
ranges below included, so nothing overflows later). `to_json`/`from_json`
convert for the items.data column (decimal as string, date/datetime as ISO 8601,
datetimes in UTC). `mask` hides personal data for lists, logs and notifications.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.language import uploads
from engine.language.definition import FieldDef

__all__ = [
    "DATE_RANGE_MESSAGE", "MAX_DATE", "MAX_UNIT", "MIN_DATE", "decode", "display", "encode", "from_json", "is_filled",
    "mask", "normalise_unit", "parse", "to_json",
]

MAX_STRING = 200
MAX_TEXT = 10_000
# Dates (and the local date of a datetime) must fall in this range. Far enough for any real
# record (a lease, a warranty, a birth date), and far enough from date.min/max that converting
# between time zones or adding a deadline never overflows (0001-01-01 in +08:00 is before
# datetime.min in UTC). Before 1900 zoneinfo also uses local mean time (+08:05:43 for Shanghai).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"日期超出范围（应在 {MIN_DATE} 至 {MAX_DATE} 之间）"
# Integers stay within what a form may type (18 digits): they fit a signed 64-bit integer,
# which SQLite's JSON functions and PostgreSQL's bigint need.
MAX_INTEGER = 10**18 - 1
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$")
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
MAX_UNIT = 32
"""Characters of a unit number (房号), as units.number stores it."""
# A unit number as staff write it: 3-1-502, 3栋1单元502, A座1201, S-101, L2-056. Letters, digits,
# CJK characters, and - # / or a blank between them; anything else is not a 房号.
_UNIT = re.compile(r"^[0-9A-Z\u3400-\u9fff](?:[0-9A-Z\u3400-\u9fff#/ -]*[0-9A-Z\u3400-\u9fff])?$")
# Hyphens an input method or a copied spreadsheet gives: full-width, dashes, minus, ー (long vowel mark).
_HYPHENS = str.maketrans({c: "-" for c in "－‐‑‒–—―−﹣ー"})
_TRUE = {"true", "1", "yes", "on", "是", "y"}
_FALSE = {"false", "0", "no", "off", "否", "n"}
# Control characters (NUL above all: PostgreSQL refuses it in text and JSON) are never text
# anyone typed; tab and line breaks are, in a text field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _string(field: FieldDef, raw: Any, _tz: tzinfo | None) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ValueError("不是有效的文字")
    text = str(raw).strip() if field.type == "string" else str(raw)
    limit = MAX_STRING if field.type == "string" else MAX_TEXT
    if len(text) > limit:
        raise ValueError(f"太长了（最多 {limit} 个字）")
    if field.type == "string" and ("\n" in text or "\r" in text):
        raise ValueError("不能换行")
    if _CONTROL.search(text):
        raise ValueError("含有不可见的控制字符")
    return text


def _integer(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> int:
    if isinstance(raw, bool):
        raise ValueError("不是有效的整数")
    value: int | None = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float | Decimal) and _finite(raw) and raw == int(raw):
        value = int(raw)
    elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*", raw):
        value = int(raw)
    if value is None:
        raise ValueError("不是有效的整数")
    if abs(value) > MAX_INTEGER:
        raise ValueError("数值超出范围")
    return value


def _finite(number: float | Decimal) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)


def _decimal(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError("不是有效的数字")
    try:
        # A YAML float such as 12.5 goes through str(): Decimal(12.1) would carry binary noise.
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValueError("不是有效的数字") from None
    if not value.is_finite() or abs(value.adjusted()) > 15:
        raise ValueError("不是有效的数字")
    return value


def _boolean(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise ValueError("请选择“是”或“否”")


def _date(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> date:
    if isinstance(raw, datetime):
        raise ValueError("应为日期，不含时间")
    value: date | None = None
    if isinstance(raw, date):
        value = raw
    elif isinstance(raw, str):
        try:
            value = date.fromisoformat(raw.strip())
        except ValueError:
            value = None
    if value is None:
        raise ValueError("不是有效的日期（如 2026-03-02）")
    return _in_range(value)


def _in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(DATE_RANGE_MESSAGE)
    return value


def _datetime(_field: FieldDef, raw: Any, tz: tzinfo | None) -> datetime:
    value: datetime | None = None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            value = None
    if value is None:
        raise ValueError("不是有效的时间（如 2026-03-02T09:30）")
    if value.tzinfo is None:
        if tz is None:
            raise ValueError("时间缺少时区")
        value = value.replace(tzinfo=tz)
    _in_range(value.date())  # before converting: astimezone overflows near date.min/max
    return value.astimezone(UTC)


def _enum(field: FieldDef, raw: Any, _tz: tzinfo | None) -> str:
    if isinstance(raw, str) and raw in field.options:
        return raw
    raise ValueError("请选择列表中的选项")


def _phone(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError("手机号码格式不正确")
    text = re.sub(r"[\s()（）]", "", str(raw))
    if text.startswith("+86"):
        text = text[3:]
    mobile = text.replace("-", "")
    if _MOBILE.match(mobile):
        return mobile
    if _LANDLINE.match(text):
        return text
    raise ValueError("手机号码格式不正确")


def _user(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> str:
    if isinstance(raw, str) and _USER.match(raw.strip()):
        return raw.strip()
    raise ValueError("不是有效的用户")


def normalise_unit(raw: str) -> str:
    """A unit number as stored: full-width letters, digits, blanks and hyphens made ASCII, letters
    upper-case, blanks trimmed and single. Raises ValueError (Chinese) when it is not a 房号.

    The one spelling rule: the unit field, imports and the unit pages all store and look up numbers
    through it, so `３－１－５０２` finds 3-1-502.
    """
    text = unicodedata.normalize("NFKC", raw).translate(_HYPHENS).upper()
    text = " ".join(text.split())
    text = re.sub(r" ?-[ -]*", "-", text)
    if not text:
        raise ValueError("请填写房号")
    if len(text) > MAX_UNIT:
        raise ValueError(f"房号太长了（最多 {MAX_UNIT} 个字）")
    if not _UNIT.match(text):
        raise ValueError("不是有效的房号（如 3-1-502）")
    return text


def _unit(_field: FieldDef, raw: Any, _tz: tzinfo | None) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError("不是有效的房号（如 3-1-502）")
    return normalise_unit(str(raw))


def _log(field: FieldDef, raw: Any, tz: tzinfo | None) -> str | list[dict[str, str]]:
    """A `log` field (跟进记录): text given in a step is one new entry (engine/runtime/logs.py
    adds who and when); a list is the stored entries, {text, by, at}."""
    if isinstance(raw, list):
        if not all(isinstance(e, dict) and isinstance(e.get("text"), str) for e in raw):
            raise ValueError("不是有效的记录")
        return [{"text": str(e["text"]), "by": str(e.get("by", "")), "at": str(e.get("at", ""))} for e in raw]
    return _string(field, raw, tz).strip()


_PARSERS: dict[str, Callable[[FieldDef, Any, tzinfo | None], Any]] = {
    "string": _string,
    "text": _string,
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "enum": _enum,
    "phone": _phone,
    "user": _user,
    "unit": _unit,
    "log": _log,
    "file": lambda field, raw, _tz: uploads.parse(field, raw),
}


def parse(field: FieldDef, raw: Any, tz: tzinfo | None = None) -> Any:
    """The typed value of `raw` for `field`; None or an empty string means unset.

    Args:
        field: the field's definition.
        raw: what was submitted (Python value, YAML scalar, or form string).
        tz: the estate's time zone, for datetimes given without one (form inputs).

    Raises:
        ValueError: the value does not fit the type; the message is short Chinese.
    """
    if raw is None or (isinstance(raw, str) and raw.strip() == "" and field.type != "text"):
        return None
    if raw == "" and field.type == "text":
        return None
    return _PARSERS[field.type](field, raw, tz)


def is_filled(value: Any) -> bool:
    """Whether a value counts as filled for `require`: `false` and `0` do."""
    return value is not None and value != ""


def to_json(field: FieldDef, value: Any) -> Any:
    """The JSON form of a typed value (for items.data and history changes)."""
    if value is None:
        return None
    if field.type == "decimal":
        return str(value)
    if field.type == "date":
        return value.isoformat()
    if field.type == "datetime":
        return value.astimezone(UTC).isoformat()
    if field.type == "file":  # attachment ids; uploads become ids (engine/files/attachments.py) before this
        return [v for v in value if isinstance(v, str)] or None
    return value


def from_json(field: FieldDef, value: Any) -> Any:
    """The typed value of a stored JSON value (the inverse of `to_json`)."""
    if value is None:
        return None
    if field.type == "decimal":
        return Decimal(value)
    if field.type == "date":
        return date.fromisoformat(value)
    if field.type == "datetime":
        return datetime.fromisoformat(value).astimezone(UTC)
    if field.type == "file":
        return uploads.StoredFiles(v for v in value if isinstance(v, str)) if isinstance(value, list) else None
    return value


def mask(field: FieldDef, value: Any) -> Any:
    """The value with personal data hidden (138****5678); non-personal values unchanged."""
    if value is None or not field.personal:
        return value
    text = str(value)
    if field.type == "phone" and len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) <= 1:
        return "*"
    if len(text) == 2:
        return text[0] + "*"
    keep = max(1, len(text) // 4)
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:]


def display(field: FieldDef, value: Any, tz: tzinfo | None = None) -> str:
    """A short Chinese rendering for notifications and lists (personal data masked)."""
    if field.type == "log" and isinstance(value, list):
        # The latest entry stands for the log: lists and notifications show what happened last.
        if not value:
            return ""
        latest = display(FieldDef(field.name, "text", field.label, personal=field.personal), value[-1].get("text"))
        return latest if len(value) == 1 else f"{latest}（共 {len(value)} 条）"
    if field.type == "file":
        return f"{len(value)} 个文件" if isinstance(value, tuple | list) and value else ""
    value = mask(field, value)
    if value is None:
        return ""
    if field.type == "enum" and not field.personal:
        return str(field.options.get(value, value))
    if field.type == "boolean" and isinstance(value, bool):
        return "是" if value else "否"
    if field.type == "datetime" and isinstance(value, datetime):
        return value.astimezone(tz or UTC).strftime("%Y-%m-%d %H:%M")
    return str(value)


def encode(fields: Mapping[str, FieldDef], values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document for items.data: set fields only, in declaration order."""
    return {name: to_json(f, values[name]) for name, f in fields.items() if values.get(name) is not None}


def decode(fields: Mapping[str, FieldDef], data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values from items.data; keys not (or no longer) declared are kept as stored."""
    return {name: (from_json(fields[name], raw) if name in fields else raw) for name, raw in data.items()}
