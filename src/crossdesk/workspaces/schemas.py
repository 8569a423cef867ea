"""Workspace, agent and token shapes for the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from crossdesk.conversations.sla import parse_hours

Role = Literal["owner", "admin", "agent"]
Language = Literal["en", "zh-CN"]


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


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

    _tz = field_validator("timezone")(_check_timezone)


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


class WorkspacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    base_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    timezone: str | None = None
    default_language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    business_hours: dict[str, list[list[str]]] | None = None
    sla_first_response_minutes: int | None = Field(None, ge=1, le=43_200)
    sla_next_response_minutes: int | None = Field(None, ge=1, le=43_200)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[list[str]]] | None) -> dict[str, list[list[str]]] | None:
        if value is not None:
            if any(len(span) != 2 for spans in value.values() for span in spans):
                raise ValueError('each interval is ["HH:MM", "HH:MM"]')
            parse_hours(value)  # raises ValueError with the reason
        return value
