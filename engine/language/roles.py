"""The role catalogue (workflows/roles.yaml): role ids, their Chinese labels, executors' departments.

A role's value is its label (`frontdesk: 前台客服`), or a mapping naming the department the
role works for (`engineer: {label: 工程部维修员, department: engineering}`): such a role is an
*executor* role, which sees only the items assigned to its holder or dispatched to its
department (engine/access). The department values are those the workflows' `department` fields
use. Ids never change; labels may.

    Catalogue.of(raw)       either shape (the file's, or a stored WorkflowVersion.roles) → Catalogue
    problems(source)        what is wrong with a roles.yaml, as Problems
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.errors import Problem
from engine.language.source import SourceMap

__all__ = ["ROLE_KEYS", "Catalogue", "problems", "unknown_role"]

ROLE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
ROLE_KEYS = frozenset({"label", "department"})


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The role catalogue: `labels` (id → label, file order) and `departments` (executor id → department)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=dict)
    """The catalogue in the file's shape, as stored with each published version."""

    @classmethod
    def of(cls, raw: Mapping[str, Any] | Catalogue) -> Catalogue:
        """A catalogue from either shape; entries of neither shape are left out (problems() reports them)."""
        if isinstance(raw, Catalogue):
            return raw
        labels: dict[str, str] = {}
        departments: dict[str, str] = {}
        for role, value in raw.items():
            if isinstance(value, str):
                labels[role] = value
            elif isinstance(value, Mapping) and isinstance(value.get("label"), str):
                labels[role] = value["label"]
                if isinstance(value.get("department"), str):
                    departments[role] = value["department"]
        return cls(MappingProxyType(labels), MappingProxyType(departments), MappingProxyType(dict(raw)))

    @property
    def department_values(self) -> frozenset[str]:
        """Every department an executor role works for."""
        return frozenset(self.departments.values())


def unknown_role(role: str, labels: Mapping[str, str], hint: str = "") -> str:
    """The message for a role id the catalogue lacks: every valid id with its label, so the fix is on one line."""
    known = ", ".join(f"{r}（{label}）" for r, label in labels.items())
    return f"unknown role '{role}'{hint}; the roles of roles.yaml are: {known or '(none)'}"


def problems(document: Any, smap: SourceMap) -> Iterator[Problem]:
    """What is wrong with a roles.yaml document: ids, labels, the mapping form's keys."""
    if not isinstance(document, dict):
        yield smap.problem((), "roles.yaml must map each role id to its Chinese label "
                               "(or to {label: ..., department: ...})", code="roles")
        return
    for role, value in document.items():
        if not isinstance(role, str) or not ROLE_ID.match(role):
            yield smap.problem((role,), f"'{role}' is not a valid role id", key=True, code="roles")
        elif isinstance(value, dict):
            yield from _mapping_problems(role, value, smap)
        elif not isinstance(value, str) or not value:
            yield smap.problem((role,), "the label must be a text", code="roles")


def _mapping_problems(role: str, value: dict[Any, Any], smap: SourceMap) -> Iterator[Problem]:
    for key in value:
        if key not in ROLE_KEYS:
            yield smap.problem((role, key), f"unknown key '{key}' (a role has: label, department)", key=True,
                               code="roles")
    if not isinstance(value.get("label"), str) or not value["label"]:
        yield smap.problem((role,), "the label must be a text: {label: 工程部维修员, department: engineering}",
                           code="roles")
    department = value.get("department")
    if "department" in value and (not isinstance(department, str) or not ROLE_ID.match(department)):
        yield smap.problem((role, "department"), "the department is an id such as engineering (lowercase "
                           "letters, digits and _), as the workflows' department fields use", code="roles")
