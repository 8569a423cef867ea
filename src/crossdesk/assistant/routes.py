"""The seller's assistant policy: any agent may read it (it is what the assistant says), admins change it."""

from __future__ import annotations

from fastapi import APIRouter

from crossdesk.assistant.policy import DEFAULT_POLICY, Policy, policy_of
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, AdminPrincipal, CurrentPrincipal

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])


@router.get("/policy", response_model=Policy)
async def read_policy(principal: CurrentPrincipal, db: DB) -> Policy:
    """The policy in force: the stored one, or the defaults (also when the stored one no longer validates)."""
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return policy_of(await workspaces.get_workspace(session, principal.workspace_id))


@router.put("/policy", response_model=Policy)
async def replace_policy(body: Policy, principal: AdminPrincipal, db: DB) -> Policy:
    """Replace the whole policy (send the defaults, as a new workspace's ``GET`` shows them, to go back)."""
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        workspace.assistant_policy = None if body == DEFAULT_POLICY else body.model_dump(mode="json")
    return body
