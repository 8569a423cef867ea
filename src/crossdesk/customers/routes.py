"""Customer profiles."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import service as commerce
from crossdesk.commerce.schemas import OrderOut
from crossdesk.customers import service
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
    merged_into_id: int | None
    created_at: dt.datetime


class CustomerProfile(CustomerOut):
    identities: list[IdentityOut]


class CustomerWithOrders(BaseModel):
    customer: CustomerProfile
    orders: list[OrderOut]


async def profile_of(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    customer = await service.get(session, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    identities = await service.identities_of(session, customer_id)
    return {**CustomerOut.model_validate(customer).model_dump(), "identities": identities}


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
