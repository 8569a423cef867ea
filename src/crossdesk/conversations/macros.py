"""Macros: saved replies with variables (``{{ customer.first_name }}``, ``{{ order.tracking_url }}``), the
tags they add and the status they set when used.

A seller writes the templates, but a template is code: it is rendered by Jinja's sandbox, with loops,
imports and other template machinery refused when saved, no ``**`` and no huge ``*``, so a template can
neither reach Python's internals nor keep a worker busy. A value the conversation does not have renders as
empty text.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import service as commerce
from crossdesk.commerce.tracking import tracking_link
from crossdesk.conversations import service
from crossdesk.conversations.models import Macro
from crossdesk.conversations.schemas import ConversationPatch, MacroIn, MacroOut, MacroPatch
from crossdesk.customers import service as customers
from crossdesk.db import utcnow

if TYPE_CHECKING:
    from crossdesk.workspaces.models import Agent

MAX_OUTPUT = 20_000
# Template machinery a saved reply never needs, each a way to loop, recurse or load other templates.
_REFUSED_NODES = (
    nodes.For,
    nodes.Macro,
    nodes.CallBlock,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Extends,
    nodes.Block,
)


class MacroError(ValueError):
    """A template that cannot be saved or rendered; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            raise MacroError("the ** operator is not allowed in a macro")
        result = operator.mul(left, right)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT:
            raise MacroError("the macro's text would be too long")
        return result


_ENV = _Sandbox(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=True)


def check_template(body: str) -> None:
    """Raise MacroError when ``body`` is not a template a macro may be."""
    try:
        tree = _ENV.parse(body)
    except TemplateError as exc:
        raise MacroError(f"template error: {exc}") from exc
    refused = next(tree.find_all(_REFUSED_NODES), None)
    if refused is not None:
        raise MacroError(f"a macro cannot use {type(refused).__name__.lower()} blocks")


def render_text(body: str, variables: dict[str, Any]) -> str:
    """The macro's text for these variables; a sandbox violation or a broken template raises MacroError."""
    check_template(body)
    try:
        text = _ENV.from_string(body).render(variables)
    except TemplateError as exc:
        raise MacroError(f"the macro cannot be rendered: {exc}") from exc
    if len(text) > MAX_OUTPUT:
        raise MacroError("the macro's text would be too long")
    return text


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


async def variables_for(session: AsyncSession, conversation_id: int, agent: Agent | None) -> dict[str, Any]:
    """What a macro can say about this conversation: plain strings, empty where unknown."""
    conversation = await service.get_conversation(session, conversation_id)
    customer = await customers.get(session, conversation.customer_id)
    name = (customer.name or "") if customer else ""
    order: dict[str, str] = {
        "number": "",
        "status": "",
        "tracking_number": "",
        "tracking_url": "",
        "carrier": "",
    }
    latest = await commerce.orders_of_customer(session, conversation.customer_id, limit=1)
    if latest:
        order.update(number=latest[0].external_id, status=latest[0].status)
        if latest[0].shipments:
            shipment = latest[0].shipments[-1]
            order.update(
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                tracking_url=tracking_link(shipment.carrier, shipment.tracking_number, shipment.tracking_url),
            )
    agent_name = agent.name if agent else ""
    return {
        "customer": {
            "name": name,
            "first_name": first_name(name),
            "email": (customer.email or "") if customer else "",
        },
        "order": order,
        "agent": {"name": agent_name, "first_name": first_name(agent_name)},
    }


async def list_macros(session: AsyncSession, query: str = "", language: str | None = None) -> list[Macro]:
    """Most used first; ``query`` matches the name or the text; ``language`` keeps that language's macros
    and those for any language."""
    stmt = select(Macro).order_by(Macro.usage_count.desc(), Macro.name)
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Macro.name.ilike(pattern, escape="\\") | Macro.body.ilike(pattern, escape="\\"))
    if language:
        stmt = stmt.where(Macro.language.is_(None) | (Macro.language == language))
    return list((await session.scalars(stmt)).all())


async def get_macro(session: AsyncSession, macro_id: int) -> Macro:
    macro = await session.get(Macro, macro_id)
    if macro is None:
        raise service.NotFound(f"macro {macro_id} not found")
    return macro


async def _check_unique(session: AsyncSession, name: str, language: str | None, macro_id: int | None) -> None:
    same = select(Macro.id).where(
        Macro.name == name, Macro.language.is_(None) if language is None else Macro.language == language
    )
    if macro_id is not None:
        same = same.where(Macro.id != macro_id)
    if await session.scalar(same.limit(1)) is not None:
        raise MacroError("a macro with this name and language exists already", field="name")


async def create_macro(session: AsyncSession, data: MacroIn, agent_id: int | None) -> MacroOut:
    check_template(data.body)
    await _check_unique(session, data.name, data.language, None)
    macro = Macro(**data.model_dump(), created_by_id=agent_id, usage_count=0)
    macro.add_tags = list(dict.fromkeys(data.add_tags))
    session.add(macro)
    await session.flush()
    return MacroOut.model_validate(macro)


async def update_macro(session: AsyncSession, macro_id: int, patch: MacroPatch) -> MacroOut:
    macro = await get_macro(session, macro_id)
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("body") is not None:
        check_template(changes["body"])
    for required in ("name", "body", "add_tags"):
        if required in changes and changes[required] is None:
            del changes[required]
    name, language = changes.get("name", macro.name), changes.get("language", macro.language)
    await _check_unique(session, name, language, macro.id)
    for key, value in changes.items():
        setattr(macro, key, list(dict.fromkeys(value)) if key == "add_tags" else value)
    macro.updated_at = utcnow()
    await session.flush()
    return MacroOut.model_validate(macro)


async def delete_macro(session: AsyncSession, macro_id: int) -> None:
    await session.delete(await get_macro(session, macro_id))
    await session.flush()


async def render_macro(
    session: AsyncSession, macro_id: int, conversation_id: int, agent: Agent | None
) -> dict[str, Any]:
    """The macro's text for this conversation, and the actions it takes when used."""
    macro = await get_macro(session, macro_id)
    text = render_text(macro.body, await variables_for(session, conversation_id, agent))
    return {"text": text, "add_tags": list(macro.add_tags), "set_status": macro.set_status}


async def use_macro(
    session: AsyncSession, macro_id: int, conversation_id: int, agent: Agent | None
) -> dict[str, Any]:
    """Render the macro for the composer, add its tags, set its status (through the one update path, so the
    agents are told) and count the use."""
    rendered = await render_macro(session, macro_id, conversation_id, agent)
    conversation = await service.get_conversation(session, conversation_id)
    current = (await service.tags_of(session, [conversation.id])).get(conversation.id, [])
    changes: dict[str, Any] = {}
    if any(t not in current for t in rendered["add_tags"]):
        changes["tags"] = [*current, *rendered["add_tags"]]
    if rendered["set_status"] and rendered["set_status"] != conversation.status:
        changes["status"] = rendered["set_status"]
    if changes:
        await service.update_conversation(session, conversation_id, ConversationPatch(**changes))
    macro = await get_macro(session, macro_id)
    macro.usage_count += 1
    await session.flush()
    return rendered
