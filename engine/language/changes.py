"""The summary of what changed between two workflow documents, in Chinese, by subject.

    compare(old, new, role_labels=)    Change(subject, name, what, detail) per difference
    grouped(changes)                   (heading, changes) per subject, as a page lists them

`compare` reads raw documents (dicts), not compiled definitions, so the publish page can compare a draft
that does not validate yet: anything missing or of the wrong shape counts as empty, and it never raises.
Transitions are matched as overlays match them, by (name, from); one that only changed its `from` is
still the same step (then matched by name), so it reads as changed rather than removed and added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "SUBJECTS", "compare", "grouped"]

SUBJECTS = {"state": "状态", "transition": "操作", "field": "字段", "limit": "时限", "setting": "其他设置"}
"""Each subject of a Change, in the order a summary lists them, with its heading."""

_FIELD_TYPES = {"string": "文本", "text": "长文本", "integer": "整数", "decimal": "金额/小数", "boolean": "是否",
                "date": "日期", "datetime": "日期时间", "enum": "选项", "phone": "电话", "user": "人员", "unit": "房号",
                "log": "记录", "file": "文件"}
_FIELD_KEYS = {"roles": "可选人员的角色", "route": "派单路由", "max_size": "大小限制", "accept": "文件类型",
               "multiple": "可多选"}
_STEP_KEYS = {"set": "设置的字段值", "actions": "动作（通知、生成或关联事项）", "stay": "停留在原状态",
              "countersign": "会签", "attach": "附件要求"}
_LIMIT_KEYS = {"when": "条件", "within": "时限", "by": "截止", "since": "起算", "until": "截止状态",
               "not_before": "开始时间", "calendar": "日历", "escalate_to": "升级通知对象", "fire": "超时操作",
               "warn": "预警"}
_SETTINGS = {"id": "流程标识", "title": "流程名称", "number_prefix": "编号前缀", "create_roles": "可登记的角色",
             "access": "查看范围", "calendar": "工作日历", "summary": "列表摘要"}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two workflow documents: `subject` a key of SUBJECTS, `name` the state, field,
    transition or setting it is about, `what` "added", "removed" or "changed", `detail` the sentence shown."""

    subject: str
    name: str
    what: str
    detail: str


# -- reading half-written documents ---------------------------------------------------------------------------

def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _key(value: Any) -> str:
    """A hashable, comparable stand-in for any value of a document."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):  # keys YAML allows and JSON does not: dates, ints beside strings
        return repr(value)


def _show(value: Any, labels: Mapping[str, str] | None = None) -> str:
    """A value as the summary shows it, short."""
    if value is None:
        return "（无）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):  # one level: a nested list is shown as data
        text = "、".join((labels or {}).get(v, v) if isinstance(v, str) else _key(v) for v in value) or "（无）"
    else:
        text = (labels or {}).get(value, value) if isinstance(value, str) else _key(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _label(entry: Any, name: str) -> str:
    label = _map(entry).get("label")
    return label if isinstance(label, str) and label.strip() else name


def _delta(old: Any, new: Any, show: Callable[[Any], str]) -> str:
    """'新增 A、B；去掉 C' between two lists (a single value counts as a list of one)."""
    before = old if isinstance(old, list | tuple) else ([] if old is None else [old])
    after = new if isinstance(new, list | tuple) else ([] if new is None else [new])
    gone, came = {_key(v) for v in before}, {_key(v) for v in after}
    added = [show(v) for v in after if _key(v) not in gone]
    removed = [show(v) for v in before if _key(v) not in came]
    parts = [f"新增 {'、'.join(added)}" if added else "", f"去掉 {'、'.join(removed)}" if removed else ""]
    return "；".join(p for p in parts if p) or "顺序改变"


class _Names:
    """Labels for states, fields and roles, the new version's first (what the reader will see next)."""

    def __init__(self, old: Mapping[str, Any], new: Mapping[str, Any], roles: Mapping[str, str]) -> None:
        self.states = {n: _label(s, n) for doc in (old, new) for n, s in _map(doc.get("states")).items()}
        self.fields = {n: _label(f, n) for doc in (old, new) for n, f in _map(doc.get("fields")).items()}
        self.roles = dict(roles)

    def state(self, value: Any) -> str:
        if value == "*":
            return "任意状态"
        return self.states.get(value, value) if isinstance(value, str) else _show(value)

    def field(self, value: Any) -> str:
        return self.fields.get(value, value) if isinstance(value, str) else _show(value)

    def role(self, value: Any) -> str:
        return self.roles.get(value, value) if isinstance(value, str) else _show(value)


# -- the summary ------------------------------------------------------------------------------------------------

def compare(old: Mapping[str, Any], new: Mapping[str, Any], *,
            role_labels: Mapping[str, str] | None = None) -> tuple[Change, ...]:
    """What changed from `old` to `new` (two workflow documents, raw or stored), by subject in the order of
    SUBJECTS; `role_labels` names the roles (their ids otherwise). Never raises on a half-written document."""
    a, b = _map(old), _map(new)
    names = _Names(a, b, role_labels or {})
    try:
        changes = [*_states(a, b, names), *_transitions(a, b, names), *_fields(a, b, names),
                   *_limits(a, b, names), *_settings(a, b, names)]
    except RecursionError:  # a YAML alias that contains itself (`&a [*a]`): no two of those compare
        return (Change("setting", "", "changed", "文档中有引用自身的内容，无法比较"),)
    order = list(SUBJECTS)
    return tuple(sorted(changes, key=lambda c: order.index(c.subject)))


def grouped(changes: Iterable[Change]) -> list[tuple[str, list[Change]]]:
    """(heading, changes) per subject that has any, in the order of SUBJECTS: what a summary shows."""
    by_subject: dict[str, list[Change]] = {}
    for change in changes:
        by_subject.setdefault(change.subject, []).append(change)
    return [(heading, by_subject[s]) for s, heading in SUBJECTS.items() if s in by_subject]


def _states(a: Mapping[str, Any], b: Mapping[str, Any], names: _Names) -> list[Change]:
    old, new = _map(a.get("states")), _map(b.get("states"))
    changes = [Change("state", n, "removed", f"状态「{_label(old[n], n)}」删除") for n in old if n not in new]
    for name, state in new.items():
        label = _label(state, name)
        if name not in old:
            marks = [m for k, m in (("initial", "起始"), ("final", "结束"), ("paused", "暂停计时"))
                     if _map(state).get(k) is True]
            changes.append(Change("state", name, "added", f"状态「{label}」新增" +
                                  (f"（{'、'.join(marks)}）" if marks else "")))
            continue
        before, after = _map(old[name]), _map(state)
        if _label(before, name) != label:
            changes.append(Change("state", name, "changed", f"状态「{_label(before, name)}」改名为「{label}」"))
        for key, yes, no in (("initial", "改为起始状态", "不再是起始状态"), ("final", "改为结束状态", "不再是结束状态"),
                             ("paused", "改为暂停计时", "不再暂停计时")):
            if bool(before.get(key)) != bool(after.get(key)):
                changes.append(Change("state", name, "changed", f"状态「{label}」{yes if after.get(key) else no}"))
        if before.get("on_linked") != after.get("on_linked"):
            changes.append(Change("state", name, "changed", f"状态「{label}」的关联事项联动改变"))
        known = {"label", "initial", "final", "paused", "on_linked", "sla", "timers"}
        for key in sorted({*before, *after} - known, key=str):
            if before.get(key) != after.get(key):
                changes.append(Change("state", name, "changed", f"状态「{label}」的设置「{key}」改变"))
    return changes


def _from_key(entry: Mapping[str, Any]) -> str:
    source = entry.get("from")
    return _key(sorted(_key(s) for s in source) if isinstance(source, list | tuple) else source)


def _pairs(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> tuple[
        list[tuple[Mapping[str, Any], Mapping[str, Any]]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Transitions matched by (name, from), then the rest by name, in file order: (pairs, removed, added)."""
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    left_old, left_new = list(old), list(new)
    for key in (lambda t: (_key(t.get("name")), _from_key(t)), lambda t: _key(t.get("name"))):
        for entry in list(left_old):
            match = next((n for n in left_new if key(n) == key(entry)), None)
            if match is not None:
                pairs.append((entry, match))
                left_old.remove(entry)
                left_new.remove(match)
    return pairs, left_old, left_new


def _step_title(entry: Mapping[str, Any], names: _Names) -> str:
    source = entry.get("from")
    sources = "、".join(names.state(s) for s in source) if isinstance(source, list | tuple) else names.state(source)
    name = entry.get("name")
    label = _label(entry, name if isinstance(name, str) else "（未命名）")
    return f"操作「{label}」（{sources} → {names.state(entry.get('to'))}）"


def _transitions(a: Mapping[str, Any], b: Mapping[str, Any], names: _Names) -> list[Change]:
    old = [t for t in _list(a.get("transitions")) if isinstance(t, Mapping)]
    new = [t for t in _list(b.get("transitions")) if isinstance(t, Mapping)]
    pairs, removed, added = _pairs(old, new)
    changes = [Change("transition", _show(t.get("name")), "removed", f"{_step_title(t, names)}删除") for t in removed]
    changes += [Change("transition", _show(t.get("name")), "added", f"{_step_title(t, names)}新增") for t in added]
    for before, after in pairs:
        name, title = _show(after.get("name")), _step_title(after, names)
        said: list[str] = []
        if _label(before, "") != _label(after, ""):
            said.append(f"名称「{_label(before, name)}」改为「{_label(after, name)}」")
        if _from_key(before) != _from_key(after):
            said.append(f"起始状态：{_delta(before.get('from'), after.get('from'), names.state)}")
        if before.get("to") != after.get("to"):
            said.append(f"目标状态：{names.state(before.get('to'))} → {names.state(after.get('to'))}")
        if _key(before.get("roles")) != _key(after.get("roles")):
            said.append(f"可操作的角色：{_delta(before.get('roles'), after.get('roles'), names.role)}")
        if before.get("when") != after.get("when"):
            said.append(f"条件：{_show(before.get('when'))} → {_show(after.get('when'))}")
        for key, what in (("require", "必填字段"), ("require_new", "每次须重新填写的字段")):
            if _key(before.get(key)) != _key(after.get(key)):
                said.append(f"{what}：{_delta(before.get(key), after.get(key), names.field)}")
        known = {"name", "label", "from", "to", "roles", "when", "require", "require_new"}
        for key in [*_STEP_KEYS, *sorted({*before, *after} - known - set(_STEP_KEYS), key=str)]:
            if key not in known and _key(before.get(key)) != _key(after.get(key)):
                said.append(f"{_STEP_KEYS.get(key, key)}改变")
        changes += [Change("transition", name, "changed", f"{title}的{s}") for s in said]
    return changes


def _fields(a: Mapping[str, Any], b: Mapping[str, Any], names: _Names) -> list[Change]:
    old, new = _map(a.get("fields")), _map(b.get("fields"))
    changes = [Change("field", n, "removed", f"字段「{_label(old[n], n)}」删除") for n in old if n not in new]
    for name, field in new.items():
        label = _label(field, name)
        if name not in old:
            kind = _FIELD_TYPES.get(_key(_map(field).get("type")), "")
            changes.append(Change("field", name, "added", f"字段「{label}」新增" + (f"（{kind}）" if kind else "")))
            continue
        before, after = _map(old[name]), _map(field)
        said: list[str] = []
        if _label(before, name) != label:
            said.append(f"改名为「{label}」")
        if before.get("type") != after.get("type"):
            kinds = [_FIELD_TYPES.get(_key(x.get("type")), _show(x.get("type"))) for x in (before, after)]
            said.append(f"类型：{kinds[0]} → {kinds[1]}")
        if bool(before.get("required")) != bool(after.get("required")):
            said.append("改为登记时必填" if after.get("required") else "不再是登记时必填")
        if bool(before.get("personal")) != bool(after.get("personal")):
            said.append("改为个人信息（列表中遮盖）" if after.get("personal") else "不再作为个人信息")
        if _key(before.get("options")) != _key(after.get("options")):
            said.append(f"选项改变：{_options(before.get('options'), after.get('options'))}")
        known = {"label", "type", "required", "personal", "options"}
        for key in sorted({*before, *after} - known, key=str):
            if _key(before.get(key)) != _key(after.get(key)):
                said.append(f"{_FIELD_KEYS.get(key, key)}改变")
        changes += [Change("field", name, "changed", f"字段「{label}」{s}" if s.startswith("改") or s.startswith("不")
                           else f"字段「{label}」的{s}") for s in said]
    return changes


def _options(old: Any, new: Any) -> str:
    before, after = _map(old), _map(new)
    if not before and not after:  # a list or some other shape: say what differs by value
        return _delta(old, new, _show)
    parts = [f"新增 {'、'.join(_show(after[k]) for k in after if k not in before)}",
             f"去掉 {'、'.join(_show(before[k]) for k in before if k not in after)}",
             "；".join(f"「{_show(before[k])}」改为「{_show(after[k])}」" for k in after
                      if k in before and before[k] != after[k])]
    return "；".join(p for p in parts if p and not p.endswith(" ")) or "顺序改变"


def _limit_text(entry: Any, names: _Names, parameters: Mapping[str, Any]) -> str:
    """'3d' / '当天内' / a parameter's label, and its condition: how a time limit reads in the summary."""
    limit = _map(entry)
    within, by = limit.get("within"), limit.get("by")
    if isinstance(within, str) and within in parameters:
        text = f"{_label(parameters[within], within)}（{_show(_map(parameters[within]).get('value'))}）"
    elif within is not None:
        text = _show(within)
    else:
        text = "当天内" if by == "end_of_day" else _show(by)
    when = limit.get("when")
    return text + (f"（{_show(when)} 时）" if when else "")


def _limit_lists(place: str, old: Any, new: Any, names: _Names,
                 parameters: tuple[Mapping[str, Any], Mapping[str, Any]]) -> list[Change]:
    """The changes between two lists of limits of one place: entries matched when equal, then by condition,
    then in order; the rest added or removed. `parameters`: the old and the new document's."""
    before, after = _list(old), _list(new)
    if _key(before) == _key(after):
        return []
    left_old, left_new = [e for e in before if e not in after], [e for e in after if e not in before]
    changes: list[Change] = []
    for same_condition in (True, False):  # an entry keeps its condition; failing that, its place in the list
        for entry in list(left_old):
            other = next((n for n in left_new if not same_condition or _when(n) == _when(entry)), None)
            if other is None:
                continue
            left_old.remove(entry)
            left_new.remove(other)
            x, y = _map(entry), _map(other)
            if _but_length(x) == _but_length(y):
                texts = _limit_text(x, names, parameters[0]), _limit_text(y, names, parameters[1])
                detail = f"时限「{place}」{texts[0]} → {texts[1]}"
            else:
                others = sorted({*x, *y} - set(_LIMIT_KEYS), key=str)
                keys = [str(_LIMIT_KEYS.get(k, k)) for k in [*_LIMIT_KEYS, *others] if _key(x.get(k)) != _key(y.get(k))]
                detail = f"时限「{place}」{_limit_text(y, names, parameters[1])}的{'、'.join(keys)}改变"
            changes.append(Change("limit", place, "changed", detail))
    changes += [Change("limit", place, "removed", f"时限「{place}」去掉 {_limit_text(e, names, parameters[0])}")
                for e in left_old]
    changes += [Change("limit", place, "added", f"时限「{place}」新增 {_limit_text(e, names, parameters[1])}")
                for e in left_new]
    return changes


def _when(entry: Any) -> str:
    return _key(_map(entry).get("when"))


def _but_length(entry: Mapping[str, Any]) -> str:
    """A limit without its length: equal for two limits that differ only in how long they give."""
    return _key({k: v for k, v in entry.items() if k not in ("within", "by")})


def _limits(a: Mapping[str, Any], b: Mapping[str, Any], names: _Names) -> list[Change]:
    old_parameters, parameters = _map(a.get("parameters")), _map(b.get("parameters"))
    both = (old_parameters, parameters)
    old_states, new_states = _map(a.get("states")), _map(b.get("states"))
    changes = _limit_lists("整单", a.get("item_sla"), b.get("item_sla"), names, both)
    for name, state in new_states.items():
        if name not in old_states:
            continue  # said with the state
        label, before, after = _label(state, name), _map(old_states[name]), _map(state)
        changes += _limit_lists(label, before.get("sla"), after.get("sla"), names, both)
        if _key(before.get("timers")) != _key(after.get("timers")):
            changes.append(Change("limit", label, "changed", f"状态「{label}」的定时操作改变"))
    for name in [*old_parameters, *(n for n in parameters if n not in old_parameters)]:
        was, now = old_parameters.get(name), parameters.get(name)
        if _key(was) == _key(now):
            continue
        timed = "duration" in (_map(was).get("type"), _map(now).get("type"))
        subject, kind = ("limit", "时限参数") if timed else ("setting", "参数")
        label = _label(now if now is not None else was, name)
        if was is None or now is None:
            what = "added" if was is None else "removed"
            changes.append(Change(subject, name, what, f"{kind}「{label}」{'新增' if was is None else '删除'}"))
            continue
        values = _show(_map(was).get("value")), _show(_map(now).get("value"))
        said = f"{values[0]} → {values[1]}" if values[0] != values[1] else "改变"
        changes.append(Change(subject, name, "changed", f"{kind}「{label}」{said}"))
    return changes


def _settings(a: Mapping[str, Any], b: Mapping[str, Any], names: _Names) -> list[Change]:
    changes: list[Change] = []
    handled = {"fields", "states", "transitions", "item_sla", "parameters"}
    for key in [*_SETTINGS, *sorted({*a, *b} - handled - set(_SETTINGS), key=str)]:
        before, after = a.get(key), b.get(key)
        if _key(before) == _key(after):
            continue
        what = _SETTINGS.get(key, f"设置「{key}」")
        if key == "create_roles":
            detail = f"{what}：{_delta(before, after, names.role)}"
        elif isinstance(before, str | int | None) and isinstance(after, str | int | None):
            detail = f"{what}：{_show(before)} → {_show(after)}"
        else:
            detail = f"{what}改变"
        changes.append(Change("setting", key, "changed", detail))
    return changes
