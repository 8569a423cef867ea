"""Customer profiles."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import service as commerce
from crossdesk.commerce.schemas import OrderOut
from crossdesk.customers import service
from crossdesk.customers import tags as customer_tags
from crossdesk.customers.models import Customer
from crossdesk.workspaces.deps import DB, CurrentPrincipal, RowId

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    email: str | None
    phone: str | None
    country: str | None
    language: str | None
    timezone: str | None
    notes: str | None
    merged_into_id: int | None
    created_at: dt.datetime


class CustomerProfile(CustomerOut):
    identities: list[IdentityOut]
    tags: list[str]


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(
        None, max_length=service.MAX_NOTES, description="The seller's notes; blank clears."
    )


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(
        max_length=customer_tags.MAX_TAGS,
        description="Trimmed, at most 64 characters each, unique regardless of case (the first spelling "
        "is kept).",
    )


class TagsOut(BaseModel):
    tags: list[str]


class CustomerWithOrders(BaseModel):
    customer: CustomerProfile
    orders: list[OrderOut]


async def _existing(session: AsyncSession, customer_id: int) -> Customer:
    customer = await service.get(session, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    return customer


async def profile_of(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    customer = await _existing(session, customer_id)
    return {
        **CustomerOut.model_validate(customer).model_dump(),
        "identities": await service.identities_of(session, customer_id),
        "tags": await customer_tags.tags_of(session, customer_id),
    }


@router.get("", response_model=list[CustomerOut])
async def search_customers(
    principal: CurrentPrincipal, db: DB, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> list[Any]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return list(await service.search(session, q))


@router.get("/{customer_id}", response_model=CustomerWithOrders)
async def read_customer(customer_id: RowId, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return {
            "customer": await profile_of(session, customer_id),
            "orders": await commerce.orders_of_customer(session, customer_id),
        }


@router.patch("/{customer_id}", response_model=CustomerProfile)
async def update_customer(
    customer_id: RowId, body: CustomerPatch, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    """Change the seller's notes on the customer (any agent)."""
    async with db.transaction(principal.workspace_id) as session:
        await _existing(session, customer_id)
        if "notes" in body.model_fields_set:
            await service.set_notes(session, customer_id, body.notes)
        return await profile_of(session, customer_id)


@router.get("/{customer_id}/tags", response_model=TagsOut)
async def read_tags(customer_id: RowId, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        await _existing(session, customer_id)
        return {"tags": await customer_tags.tags_of(session, customer_id)}


@router.put("/{customer_id}/tags", response_model=TagsOut)
async def replace_tags(
    customer_id: RowId, body: TagsIn, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    """Make the customer's tags exactly these (normalized; a refused tag changes nothing: 422)."""
    async with db.transaction(principal.workspace_id) as session:
        await _existing(session, customer_id)
        try:
            return {"tags": await customer_tags.replace(session, customer_id, body.tags)}
        except customer_tags.TagError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
