"""Workspace, agent and token shapes for the API."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from crossdesk.conversations.sla import parse_hours

Role = Literal["owner", "admin", "agent"]
Language = Literal["en", "zh-CN"]
Availability = Literal["online", "away", "offline"]
Hours = dict[str, list[list[str]]]
BASE_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MAX_LANGUAGES = 30


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


def check_hours(value: Hours) -> Hours:
    """Weekly hours (business hours, an agent's shifts): ``{"mon": [["09:00", "18:00"]], ...}``."""
    if any(len(span) != 2 for spans in value.values() for span in spans):
        raise ValueError('each interval is ["HH:MM", "HH:MM"]')
    parse_hours(value)  # raises ValueError with the reason
    return value


def check_languages(value: list[str]) -> list[str]:
    """BCP 47 base codes ("de", "ja"): a region or script ("zh-CN") is dropped, duplicates too."""
    codes = [code.strip().lower().split("-")[0] for code in value if code.strip()]
    bad = [code for code in codes if not BASE_LANGUAGE.match(code)]
    if bad:
        raise ValueError(f"not a language code: {', '.join(bad)}")
    if len(codes) > MAX_LANGUAGES:
        raise ValueError(f"at most {MAX_LANGUAGES} languages")
    return list(dict.fromkeys(codes))


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class AgentIn(BaseModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=1024)
    role: Role = "agent"
    language: Language = "en"
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=list, description="Buyers' languages (base codes).")

    _tz = field_validator("timezone")(_check_timezone)
    _languages = field_validator("languages")(check_languages)


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    email: str
    name: str
    role: str
    language: str
    timezone: str
    is_active: bool
    languages: list[str]
    shifts: Hours | None
    availability: str
    last_assigned_at: dt.datetime | None


class AgentPatch(BaseModel):
    """An admin's change to an agent; ``shifts: null`` means always on shift."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    languages: list[str] | None = None
    timezone: str | None = None
    availability: Availability | None = None
    shifts: Hours | None = None
    is_active: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_languages(value)

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, value: Hours | None) -> Hours | None:
        return None if value is None else check_hours(value)

    def changes(self) -> dict[str, Any]:
        """The fields sent; only ``shifts`` may be null."""
        changes = self.model_dump(exclude_unset=True)
        if any(value is None for name, value in changes.items() if name != "shifts"):
            raise ValueError("only shifts can be set to null")
        return changes


class MeOut(BaseModel):
    agent: AgentOut | None
    workspace_id: int
    workspace_name: str
    role: str
    csrf_token: str | None = None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "agent"] = "agent"


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; only its hash is kept.")


class WorkspaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    base_currency: str
    timezone: str
    default_language: str
    business_hours: dict[str, list[list[str]]] = Field(
        description='Local opening hours per weekday, e.g. {"mon": [["09:00", "18:00"]]}; {} means 24/7.'
    )
    sla_first_response_minutes: int
    sla_next_response_minutes: int
    auto_assign: bool


class WorkspacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    base_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    timezone: str | None = None
    default_language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    business_hours: dict[str, list[list[str]]] | None = None
    sla_first_response_minutes: int | None = Field(None, ge=1, le=43_200)
    sla_next_response_minutes: int | None = Field(None, ge=1, le=43_200)
    auto_assign: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: Hours | None) -> Hours | None:
        return None if value is None else check_hours(value)
