"""The seller's rules the assistant answers from and acts within, stored in ``Workspace.assistant_policy``.

Returns: the window is counted from delivery (the latest delivered parcel of the order). An order that was
never delivered has no return window yet: the buyer is told it is not delivered yet (and may ask to cancel),
never a deadline counted from the day it was placed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

if TYPE_CHECKING:
    from crossdesk.workspaces.models import Workspace

log = logging.getLogger(__name__)

Mode = Literal["off", "suggest", "confident", "after_hours"]
ANY_COUNTRY = "*"
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^([A-Za-z]{2}|\*)$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ChannelKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Strict(BaseModel):
    # A typo in a key is a mistake to show the seller, not a rule silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Returns(Strict):
    window_days: int = Field(30, ge=0, le=365, description="Days after delivery a return may start.")
    condition: Text = "unused, in its original packaging"
    return_shipping_paid_by: Literal["buyer", "seller"] = "buyer"
    non_returnable_skus: list[Sku] = Field(default_factory=list, max_length=10_000)


class ShippingTime(Strict):
    countries: list[Country] = Field(min_length=1, max_length=300, description='ISO codes, or ["*"].')
    method: Name = "standard"
    min_days: int = Field(ge=0, le=365)
    max_days: int = Field(ge=0, le=365)

    @model_validator(mode="after")
    def _ordered(self) -> ShippingTime:
        if self.min_days > self.max_days:
            raise ValueError("min_days is more than max_days")
        return self


EUROPE = ["AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR", "HU",
          "IE", "IT", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"]  # fmt: skip

# Defaults for a seller shipping from China by standard post; the seller must check each against their
# carriers before the assistant quotes them. The first rule naming a country wins; "*" is the fallback.
DEFAULT_SHIPPING_TIMES = (
    ShippingTime(countries=["US", "CA"], min_days=7, max_days=15),  # default: the seller must check
    ShippingTime(countries=EUROPE, min_days=8, max_days=18),  # default: the seller must check
    ShippingTime(countries=["JP", "KR"], min_days=5, max_days=10),  # default: the seller must check
    ShippingTime(countries=[ANY_COUNTRY], min_days=10, max_days=25),  # default: the seller must check
)


class Actions(Strict):
    """What the assistant may do on its own; nothing until the seller says so."""

    cancel_unfulfilled: bool = False
    change_address_before_shipping: bool = False
    start_return: bool = False


class Offers(Strict):
    """What the assistant may offer in an answer it sends or suggests; nothing until the seller says so."""

    recommend_products: bool = Field(False, description="Recommended products for high-value customers.")
    win_back_code: Code | None = Field(None, description="A discount code for customers at risk of leaving.")


class Policy(Strict):
    returns: Returns = Field(default_factory=Returns)
    shipping_times: list[ShippingTime] = Field(
        default_factory=lambda: list(DEFAULT_SHIPPING_TIMES), max_length=200
    )
    # Empty by default: the assistant cannot guess how a seller is paid, so it asks a person instead.
    payment_methods: list[Name] = Field(default_factory=list, max_length=50)
    actions: Actions = Field(default_factory=Actions)
    offers: Offers = Field(default_factory=Offers)
    # Off until the seller turns it on: a new workspace's conversations stay as the agents left them.
    default_mode: Mode = "off"
    modes: dict[ChannelKind, Mode] = Field(
        default_factory=dict, max_length=50, description="Per channel kind."
    )
    confidence_threshold: float = Field(0.8, ge=0, le=1)

    def mode_for(self, channel: str) -> Mode:
        return self.modes.get(channel, self.default_mode)


DEFAULT_POLICY = Policy()


def policy_of(workspace: Workspace) -> Policy:
    """The workspace's policy; the defaults when none is stored or the stored one no longer validates
    (an older shape, a hand edit): the assistant keeps working, and the log says why."""
    if workspace.assistant_policy is None:
        return DEFAULT_POLICY
    try:
        return Policy.model_validate(workspace.assistant_policy)
    except ValidationError as exc:
        log.warning(
            "workspace %s: stored assistant policy is invalid, using the defaults: %s", workspace.id, exc
        )
        return DEFAULT_POLICY
