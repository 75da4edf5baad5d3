"""Every system-step handler the engine knows, by its ``aktion`` name (see engine/actions.py)."""

from __future__ import annotations

from engine import (
    arbeitsgruppe,
    consent_steps,
    membership_steps,
    netzwerk_steps,
    netzwerktreffen,
    voting_step,
)
from engine.actions import ActionHandler

ACTION_HANDLERS: dict[str, ActionHandler] = {
    **voting_step.HANDLERS,
    **netzwerktreffen.HANDLERS,
    **arbeitsgruppe.HANDLERS,
    **membership_steps.HANDLERS,
    **netzwerk_steps.HANDLERS,
    **consent_steps.HANDLERS,
}
