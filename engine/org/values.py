"""What staff type into the organisation's records, checked and cleaned; residents' data masked.

    text(raw, label, longest)          stripped one-line text, or ValueError with a Chinese reason
    phone(raw) / optional_phone(raw)   a mobile (13812345678) or landline (021-12345678), normalised
    email(raw)                          an e-mail address, or None
    area(raw)                           a floor area in m² (Decimal, 2 places)
    tags(raw)                           short labels, duplicates dropped (VIP, 敏感客户, 空置)
    mask_name(name) / mask_phone(phone) what staff who may not see residents see (王*, 138****5678)

Phones and masks go through engine/language/fields.py, so a phone typed into an item and one
typed into a unit record are read, stored and masked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from engine.language import fields
from engine.language.definition import FieldDef

__all__ = ["ANONYMOUS", "area", "email", "mask_name", "mask_phone", "optional_phone", "phone", "tags", "text"]

ANONYMOUS = "（已匿名）"
"""The name an anonymised resident keeps (PIPL): reports still count the household, nobody is named."""
_PHONE = FieldDef(name="phone", type="phone", label="电话", personal=True)
_NAME = FieldDef(name="name", type="string", label="姓名", personal=True)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_MAX_AREA = Decimal("100000")
_MAX_TAGS = 10
_MAX_TAG = 20


def text(raw: object, label: str, longest: int) -> str:
    """`raw` stripped; refused when empty, too long or holding control characters (line breaks too)."""
    value = str(raw if raw is not None else "").strip()
    if not value:
        raise ValueError(f"请填写{label}")
    if len(value) > longest:
        raise ValueError(f"{label}太长了（最多 {longest} 个字）")
    if _CONTROL.search(value):
        raise ValueError(f"{label}含有换行或不可见的控制字符")
    return value


def phone(raw: object) -> str:
    """The phone number as stored (mobile digits only, +86 dropped); ValueError in Chinese when malformed."""
    value = fields.parse(_PHONE, raw)
    if value is None:
        raise ValueError("请填写电话")
    return str(value)


def optional_phone(raw: object) -> str | None:
    """`phone(raw)`, or None when nothing was typed."""
    return None if raw is None or str(raw).strip() == "" else phone(raw)


def email(raw: object) -> str | None:
    """An e-mail address, or None when nothing was typed."""
    if raw is None or str(raw).strip() == "":
        return None
    value = str(raw).strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("电子邮箱格式不正确")
    return value


def area(raw: object) -> Decimal | None:
    """A floor area in m² with at most two decimals, or None when nothing was typed."""
    if raw is None or str(raw).strip() == "":
        return None
    if isinstance(raw, bool):
        raise ValueError("面积应为数字（平方米）")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("面积应为数字（平方米）") from None
    if not value.is_finite() or value <= 0 or value >= _MAX_AREA:
        raise ValueError("面积应大于 0、小于 100000 平方米")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("面积最多保留两位小数")
    return value.quantize(Decimal("0.01"))


def tags(raw: Iterable[object] | str | None) -> list[str]:
    """Labels from a list or a text separated by ; , or 、 (as typed in a spreadsheet cell); duplicates dropped."""
    if raw is None:
        return []
    parts = re.split(r"[;；,，、]", raw) if isinstance(raw, str) else [str(p) for p in raw]
    found = list(dict.fromkeys(p.strip() for p in parts if p is not None and str(p).strip()))
    for tag in found:
        if len(tag) > _MAX_TAG or _CONTROL.search(tag):
            raise ValueError(f"标签“{tag[:_MAX_TAG]}”太长或含有控制字符（每个最多 {_MAX_TAG} 个字）")
    if len(found) > _MAX_TAGS:
        raise ValueError(f"标签最多 {_MAX_TAGS} 个")
    return found


def mask_name(name: str | None) -> str | None:
    """A resident's name as staff who may not see it read it (王*)."""
    if name is None or name == ANONYMOUS:
        return name
    return str(fields.mask(_NAME, name))


def mask_phone(number: str | None) -> str | None:
    """A phone number as staff who may not see it read it (138****5678)."""
    return None if number is None else str(fields.mask(_PHONE, number))
