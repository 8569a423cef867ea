"""Customers and identity resolution: one profile per person, whichever door they came in by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Select, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.customers.identities import EMAIL, PHONE, normalize
from crossdesk.customers.models import Customer, CustomerIdentity, CustomerTag

MAX_NOTES = 10_000


@dataclass(frozen=True)
class Profile:
    """What the channel knows about the sender; any field may be missing."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    language: str | None = None


def identity_keys(profile: Profile, extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Normalised (kind, value) pairs, e-mail and phone included, without repeats."""
    keys: list[tuple[str, str]] = []
    raw = [(EMAIL, profile.email), (PHONE, profile.phone), *extra]
    for kind, value in raw:
        if value:
            key = (kind.strip().lower(), normalize(kind, value, profile.country))
            if key not in keys:
                keys.append(key)
    return keys


Key = tuple[str, str]


async def resolve(session: AsyncSession, keys: list[Key], profile: Profile) -> Customer:
    """The customer these identities belong to (created if none); see ``resolve_many``."""
    return (await resolve_many(session, [(keys, profile)]))[0]


async def resolve_many(session: AsyncSession, requests: list[tuple[list[Key], Profile]]) -> list[Customer]:
    """For each request, find the customer any of its identities belongs to, or create one; link the rest.

    One query finds every known identity of the batch; requests are then settled in order, so two messages
    of one new buyer in the same batch get the same new profile. When a request's identities point at
    several customers, they are the same person: the oldest profile absorbs the others (identities,
    conversations and orders move over; the rest are marked merged).
    """
    if any(not keys for keys, _ in requests):
        raise ValueError("a customer needs at least one identity")
    wanted = list(dict.fromkeys(k for keys, _ in requests for k in keys))
    rows = await session.execute(
        select(CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id).where(
            tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(wanted)
        )
    )
    owner_of: dict[Key, int] = {(r.kind, r.value): r.customer_id for r in rows}
    found = await session.scalars(select(Customer).where(Customer.id.in_(set(owner_of.values()))))
    by_id = {c.id: c for c in found}
    resolved = []
    for keys, profile in requests:
        owners = sorted({owner_of[k] for k in keys if k in owner_of})
        if not owners:
            customer = _new_customer(profile)
            session.add(customer)
            await session.flush()
            by_id[customer.id] = customer
            owners = [customer.id]
        customer = by_id[owners[0]]
        if len(owners) > 1:
            await merge(session, customer, owners[1:])
            owner_of.update({k: customer.id for k, owner in owner_of.items() if owner in owners})
        _fill_missing(customer, profile)
        for kind, value in keys:
            if (kind, value) not in owner_of:
                session.add(CustomerIdentity(customer_id=customer.id, kind=kind, value=value))
                owner_of[(kind, value)] = customer.id
        resolved.append(customer)
    return resolved


def _new_customer(profile: Profile) -> Customer:
    return Customer(
        name=profile.name,
        email=profile.email and normalize(EMAIL, profile.email),
        phone=profile.phone and normalize(PHONE, profile.phone, profile.country),
        country=profile.country,
        language=profile.language,
    )


def _fill_missing(customer: Customer, profile: Profile) -> None:
    for field in ("name", "country", "language"):
        if getattr(customer, field) is None and getattr(profile, field) is not None:
            setattr(customer, field, getattr(profile, field))
    if customer.email is None and profile.email:
        customer.email = normalize(EMAIL, profile.email)
    if customer.phone is None and profile.phone:
        customer.phone = normalize(PHONE, profile.phone, profile.country)


async def merge(session: AsyncSession, keep: Customer, others: list[int]) -> None:
    """Fold the ``others`` profiles into ``keep``: identities, conversations and orders move over."""
    from crossdesk.commerce.service import reassign_customer_orders
    from crossdesk.conversations.service import reassign_customer_conversations

    await session.execute(
        update(CustomerIdentity).where(CustomerIdentity.customer_id.in_(others)).values(customer_id=keep.id)
    )
    await reassign_customer_conversations(session, others, keep.id)
    await reassign_customer_orders(session, others, keep.id)
    await session.execute(update(Customer).where(Customer.id.in_(others)).values(merged_into_id=keep.id))


async def get(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def get_many(session: AsyncSession, customer_ids: Iterable[int]) -> dict[int, Customer]:
    rows = await session.scalars(select(Customer).where(Customer.id.in_(set(customer_ids))))
    return {c.id: c for c in rows}


async def identities_of(session: AsyncSession, customer_id: int) -> list[CustomerIdentity]:
    stmt = (
        select(CustomerIdentity)
        .where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.id)
    )
    return list((await session.scalars(stmt)).all())


async def search(session: AsyncSession, query: str, limit: int = 50) -> list[Customer]:
    query = query.strip()
    matching = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.value.icontains(query, autoescape=True)
    )
    stmt = (
        select(Customer)
        .where(Customer.merged_into_id.is_(None))
        .where(
            or_(
                Customer.name.icontains(query, autoescape=True),
                Customer.email.icontains(query, autoescape=True),
                Customer.id.in_(matching),
            )
        )
        .order_by(Customer.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def set_notes(session: AsyncSession, customer_id: int, notes: str | None) -> Customer | None:
    """Replace the customer's notes (blank clears them); None when there is no such customer."""
    customer = await get(session, customer_id)
    if customer is not None:
        customer.notes = (notes or "").strip() or None
    return customer


VIP_TAG = "vip"  # compared case-insensitively: "VIP", "Vip" and "vip" are the one tag


def vip_ids() -> Select[int]:
    """The ids of the customers tagged VIP, as a subquery for other domains' filters."""
    return select(CustomerTag.customer_id).where(func.lower(CustomerTag.tag) == VIP_TAG)


def matching_ids(query: str) -> Select[int]:
    """The ids of the customers whose name, e-mail or any identity contains ``query`` (case-insensitive,
    ``%`` and ``_`` matched literally), as a subquery."""
    return select(Customer.id).where(
        or_(
            Customer.name.icontains(query, autoescape=True),
            Customer.email.icontains(query, autoescape=True),
            Customer.id.in_(
                select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.value.icontains(query, autoescape=True)
                )
            ),
        )
    )


class Card(NamedTuple):
    """What a list shows of a customer."""

    id: int
    name: str | None
    email: str | None
    country: str | None
    timezone: str | None
    vip: bool


async def cards(session: AsyncSession, ids: Iterable[int]) -> dict[int, Card]:
    is_vip = Customer.id.in_(vip_ids())
    found = await session.execute(
        select(Customer.id, Customer.name, Customer.email, Customer.country, Customer.timezone, is_vip).where(
            Customer.id.in_(list(ids))
        )
    )
    return {r[0]: Card(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in found}
