"""National resources the line can point a caregiver to, by topic (no local directory yet)."""

from __future__ import annotations

RESOURCES: dict[str, str] = {
    "respite": "ARCH National Respite Locator lists respite care near you: archrespite.org",
    "support_group": "Family Caregiver Alliance has support groups and guides: caregiver.org",
    "financial": "NCOA's BenefitsCheckUp finds programs that help pay for care: benefitscheckup.org",
    "legal": "Eldercare Locator connects you to local legal and aging services: 1-800-677-1116",
    "dementia": "Alzheimer's Association 24/7 Helpline: 1-800-272-3900",
    "mental_health": "You can call or text 988 any time to talk with someone.",
    "general": "AARP's caregiving support line: 1-877-333-5885",
}
TOPICS = tuple(RESOURCES)


def find_resource(topic: str) -> str:
    """The resource for a topic; an unknown topic gets the general line."""
    return RESOURCES.get(topic, RESOURCES["general"])
