"""Inbox shapes: the normalized inbound message, conversations and messages as the API shows them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from crossdesk.db import MAX_ID

Status = Literal["open", "pending", "snoozed", "resolved"]
Priority = Literal["low", "normal", "high", "urgent"]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")]
MAX_TEXT = 20_000


class Untrusted(BaseModel):
    """Text from outside: NUL characters are refused (PostgreSQL cannot store them, and no buyer types one);
    unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class IdentityIn(Untrusted):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    value: str = Field(min_length=1, max_length=320)


class AttachmentIn(Untrusted):
    name: str = Field(max_length=255)
    content_type: str = Field("application/octet-stream", max_length=255)
    size: int = Field(0, ge=0)
    url: str | None = Field(None, max_length=2048)


class SenderIn(Untrusted):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    country: CountryCode | None = None
    language: LanguageCode | None = None
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)


class InboundBody(Untrusted):
    """A buyer's message as a channel delivers it (the API channel's request body)."""

    platform_message_id: str = Field(min_length=1, max_length=320, description="The platform's own id.")
    text: str = Field(max_length=MAX_TEXT)
    sender: SenderIn
    sent_at: AwareDatetime | None = None
    thread_key: str | None = Field(None, max_length=320)
    subject: str | None = Field(None, max_length=500)
    language: LanguageCode | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class InboundMessage(InboundBody):
    """A buyer's message as every channel adapter hands it to ingest."""

    channel: ChannelName
    # Platform ids of earlier messages this one answers, most relevant first (e-mail In-Reply-To, then
    # References newest first): it joins the first one's conversation, reopening it if it was resolved.
    references: list[str] = Field(default_factory=list, max_length=50)
    meta: dict[str, Any] | None = None


class IngestResult(BaseModel):
    message_id: int
    conversation_id: int
    customer_id: int
    duplicate: bool


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    channel: str
    direction: str
    author_kind: str
    author_agent_id: int | None
    text: str
    attachments: list[dict[str, Any]]
    platform_message_id: str | None
    is_private: bool
    delivery_state: str | None
    meta: dict[str, Any] | None = None
    sent_at: dt.datetime
    created_at: dt.datetime


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    channel: str
    subject: str | None
    status: str
    priority: str
    assignee_id: int | None
    language: str | None
    tags: list[str] = Field(default_factory=list)
    created_at: dt.datetime
    updated_at: dt.datetime
    last_message_at: dt.datetime
    first_response_due_at: dt.datetime | None
    first_response_at: dt.datetime | None
    next_response_due_at: dt.datetime | None
    snoozed_until: dt.datetime | None
    resolved_at: dt.datetime | None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class TemplateIn(Untrusted):
    """A platform-approved message template (WhatsApp), the one kind of reply allowed outside its window."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=15, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    parameters: list[str] = Field(default_factory=list, max_length=20)


class ReplyIn(Untrusted):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="What the buyer reads.")
    template: TemplateIn | None = Field(None, description="Send as this approved template (WhatsApp).")


class ConversationPatch(Untrusted):
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="An agent of the workspace; null to unassign."
    )
    tags: list[Tag] | None = Field(None, max_length=50)
    snoozed_until: AwareDatetime | None = None


class TypingIn(BaseModel):
    is_typing: bool = True


class ViewingIn(BaseModel):
    viewing: bool = True


MacroName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
MAX_MACRO_BODY = 5_000
# What a macro may set when used (snoozing needs a time, which a saved reply cannot know).
MacroStatus = Literal["open", "pending", "resolved"]


class MacroIn(Untrusted):
    """A saved reply; ``body`` is a Jinja template rendered in a sandbox (see conversations.macros)."""

    name: MacroName
    language: LanguageCode | None = None
    body: str = Field(min_length=1, max_length=MAX_MACRO_BODY)
    add_tags: list[Tag] = Field(default_factory=list, max_length=20)
    set_status: MacroStatus | None = None


class MacroPatch(Untrusted):
    name: MacroName | None = None
    language: LanguageCode | None = None
    body: str | None = Field(None, min_length=1, max_length=MAX_MACRO_BODY)
    add_tags: list[Tag] | None = Field(None, max_length=20)
    set_status: MacroStatus | None = None


class MacroOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    language: str | None
    body: str
    add_tags: list[str]
    set_status: str | None
    usage_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MacroRenderIn(BaseModel):
    conversation_id: int = Field(ge=1, le=MAX_ID)


class MacroRendered(BaseModel):
    text: str
    add_tags: list[str]
    set_status: str | None
