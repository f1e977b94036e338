"""AIRs, Runware's model ids (`source:id@version`): the base models' AIRs, checking one, and a LoRA with its weight.

    check_air("me:mira@1")                 # the AIR, stripped; RunwareUnknownAir when it is not of that form
    LoraRef.parse("me:mira@1:0.8")         # LoraRef(air="me:mira@1", weight=0.8)

Both core.runware.registry and core.runware.cloud use these; neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.constants import BASE_AIR, DISTILLED_AIR
from core.errors import RunwareUnknownAir

BASE_MODELS = {BASE_AIR: "FLUX.2 [klein] 4B Base", DISTILLED_AIR: "FLUX.2 [klein] 4B distilled"}
AIR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_air(air: str, what: str = "AIR") -> str:
    """`air` stripped, when it is of the form source:id@version; else RunwareUnknownAir naming `what` it is."""
    air = (air or "").strip()
    if not AIR_RE.match(air):
        raise RunwareUnknownAir(f"{what} {air or '(empty)'} is not of the form source:id@version.",
                                "Write it like mysource:mira@1 (create the source in the Runware dashboard first).",
                                air=air)
    return air


@dataclass(frozen=True)
class LoraRef:
    air: str
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "LoraRef":
        """`source:id@version` or `source:id@version:WEIGHT`."""
        text = text.strip()
        head, _, tail = text.rpartition(":")
        if head and "@" in head:
            try:
                return cls(head, float(tail))
            except ValueError:
                pass
        return cls(text, 1.0)


__all__ = ["BASE_AIR", "DISTILLED_AIR", "BASE_MODELS", "AIR_RE", "check_air", "LoraRef"]
