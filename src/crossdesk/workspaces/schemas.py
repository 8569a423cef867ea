"""Workspace, agent and token shapes for the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

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
