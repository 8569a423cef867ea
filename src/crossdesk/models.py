"""Imports every domain's tables so that the metadata (and Alembic) sees them all."""

from crossdesk.campaigns.models import Campaign, CampaignRecipient, Unsubscribe
from crossdesk.channels.models import ChannelAccount, OutboxItem, SyncVersion, WebhookDelivery
from crossdesk.commerce.models import Order, OrderItem, Product, Shipment
from crossdesk.conversations.models import Conversation, ConversationTag, Macro, Message
from crossdesk.customers.models import Customer, CustomerIdentity, CustomerTag
from crossdesk.db import Base
from crossdesk.ops.models import Lease
from crossdesk.realtime.models import Event
from crossdesk.workspaces.models import Agent, ApiToken, LoginSession, Workspace

__all__ = [
    "Agent",
    "ApiToken",
    "Base",
    "Campaign",
    "CampaignRecipient",
    "ChannelAccount",
    "Conversation",
    "ConversationTag",
    "Customer",
    "CustomerIdentity",
    "CustomerTag",
    "Event",
    "Lease",
    "LoginSession",
    "Macro",
    "Message",
    "Order",
    "OrderItem",
    "OutboxItem",
    "Product",
    "Shipment",
    "SyncVersion",
    "Unsubscribe",
    "WebhookDelivery",
    "Workspace",
]
