"""HTML form fields for a channel's settings, read from its adapter's settings model, so that a new channel
gets its settings page without a template of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossdesk.channels.adapter import Adapter


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # text | number | checkbox | list | secret
    required: bool
    help: str
    default: str


def _kind(spec: dict[str, Any]) -> str:
    types = {s.get("type") for s in spec.get("anyOf", [spec])} - {"null"}
    if "boolean" in types:
        return "checkbox"
    if types & {"integer", "number"}:
        return "number"
    if "array" in types:
        return "list"
    return "text"


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def fields_of(adapter: Adapter) -> list[FormField]:
    """The adapter's settings, then its secrets (password inputs)."""
    schema = adapter.Config.model_json_schema()
    required = set(schema.get("required", ()))
    fields = [
        FormField(
            name,
            spec.get("title", name),
            _kind(spec),
            name in required,
            spec.get("description", ""),
            _default(spec.get("default")),
        )
        for name, spec in schema.get("properties", {}).items()
    ]
    secrets = [
        FormField(name, name.replace("_", " ").capitalize(), "secret", True, "", "")
        for name in adapter.credential_names
    ]
    return fields + secrets


def config_from_form(adapter: Adapter, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, secrets) from a submitted form: blank fields are left out (the model's default applies),
    lists are one item a line or comma-separated; the adapter's model validates the rest."""
    config: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for field in fields_of(adapter):
        raw = form.get(field.name, "").strip()
        if field.kind == "checkbox":
            config[field.name] = field.name in form
        elif not raw:
            continue
        elif field.kind == "secret":
            secrets[field.name] = raw
        elif field.kind == "list":
            config[field.name] = [
                item.strip() for item in raw.replace(",", "\n").splitlines() if item.strip()
            ]
        else:
            config[field.name] = raw
    return config, secrets
