"""Campaigns in and out of the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crossdesk.conversations.schemas import LanguageCode, TemplateIn, Untrusted
from crossdesk.db import MAX_ID

Kind = Literal["repeat", "win_back"]
SegmentName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A sandboxed template (as macros are): checked when saved, rendered per buyer.
TemplateText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
DiscountCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class MessageTemplate(Untrusted):
    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="E-mail subject (a template); the campaign's name when unset."
    )
    body: TemplateText = Field(
        description="The text (a template). Variables: customer.name, customer.first_name, recommendations "
        "(product titles: ``{{ recommendations | join(', ') }}``; loops are refused), discount_code, "
        "unsubscribe_url (added at the end of an e-mail that does not use it). On WhatsApp, what the inbox "
        "shows."
    )
    whatsapp: TemplateIn | None = Field(
        None,
        description="Required on a WhatsApp channel: the approved template sent instead of free text; each "
        "parameter is a template too (``{{ customer.first_name }}``), filling its placeholders in order.",
    )


class CampaignFields(Untrusted):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    kind: Kind | None = None
    segments: list[SegmentName] | None = Field(
        None, max_length=20, description="RFM segment names; empty: everyone who bought."
    )
    channel_account_id: int | None = Field(None, ge=1, le=MAX_ID)
    templates: dict[LanguageCode, MessageTemplate] | None = Field(None, min_length=1, max_length=30)
    default_language: LanguageCode | None = None
    discount_code: DiscountCode | None = None
    send_from_hour: int | None = Field(None, ge=0, le=23)
    send_until_hour: int | None = Field(None, ge=1, le=24)
    frequency_cap_days: int | None = Field(None, ge=0, le=365)
    control_share: Decimal | None = Field(None, ge=0, le=Decimal("0.5"), decimal_places=3)
    attribution_days: int | None = Field(None, ge=1, le=90)
    starts_at: AwareDatetime | None = Field(None, description="Not sent before this; launch time if unset.")


class CampaignIn(CampaignFields):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: Kind = "repeat"
    segments: list[SegmentName] = Field(default_factory=list, max_length=20)
    channel_account_id: int = Field(ge=1, le=MAX_ID)
    templates: dict[LanguageCode, MessageTemplate] = Field(min_length=1, max_length=30)
    default_language: LanguageCode = "en"
    send_from_hour: int = Field(10, ge=0, le=23)
    send_until_hour: int = Field(19, ge=1, le=24)
    frequency_cap_days: int = Field(7, ge=0, le=365)
    control_share: Decimal = Field(Decimal("0.1"), ge=0, le=Decimal("0.5"), decimal_places=3)
    attribution_days: int = Field(14, ge=1, le=90)

    @model_validator(mode="after")
    def _consistent(self) -> CampaignIn:
        if self.send_from_hour >= self.send_until_hour:
            raise ValueError("send_from_hour must be before send_until_hour")
        if self.default_language not in self.templates:
            raise ValueError("templates must include the default language")
        return self


class CampaignPatch(CampaignFields):
    """Any of the fields; the result is checked as a whole."""


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    segments: list[str]
    channel_account_id: int | None
    templates: dict[str, MessageTemplate]
    default_language: str
    discount_code: str | None
    send_from_hour: int
    send_until_hour: int
    frequency_cap_days: int
    control_share: Decimal
    attribution_days: int
    state: str
    starts_at: dt.datetime | None
    created_by_id: int | None
    created_at: dt.datetime


class LaunchOut(BaseModel):
    campaign: CampaignOut
    recipients: int = Field(description="Customers who will get the message.")
    control: int = Field(description="Customers held out for comparison.")
    skipped: dict[str, int] = Field(description="Customers left out, by reason.")


class GroupResults(BaseModel):
    recipients: int
    sent: int
    delivered: int = Field(description="Delivered, or read (a read message was delivered).")
    read: int = Field(description="Where the channel reports reads (WhatsApp, Messenger).")
    failed: int
    replied: int
    ordered: int = Field(description="Customers with an order within the attribution window.")
    revenue: Decimal = Field(description="Their orders' totals in the workspace's currency.")
    conversion_rate: float = Field(description="ordered / recipients (0 without recipients).")


class ResultsOut(BaseModel):
    campaign_id: int
    state: str
    currency: str
    attribution_days: int
    treatment: GroupResults
    control: GroupResults
    skipped: dict[str, int]
    pending: int
    uplift: float | None = Field(description="Treatment conversion rate minus control's; None without both.")
    p_value: float | None = Field(description="Two-proportion z-test (two-sided) of the uplift.")
    unconverted_currencies: list[str]
