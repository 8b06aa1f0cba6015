"""``AgentApi``: a ``TenantApi`` for endpoints that need the client's agent."""

from __future__ import annotations

from accounts.tenancy import TenantApi
from agents.models import AIAgent
from agents.selectors import agent_for_client


class AgentApi(TenantApi):
    @property
    def agent(self) -> AIAgent:
        cached = getattr(self, "_agent", None)
        if cached is None:
            cached = self._agent = agent_for_client(client=self.client)
        return cached
