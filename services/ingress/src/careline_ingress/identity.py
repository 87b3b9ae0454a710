"""Former home of the ``users`` repository, now :mod:`careline_ingress.repository`.

Kept only so ``admin_api`` (being reworked separately) imports unchanged; new code imports
from ``careline_ingress.repository``. Delete once nothing imports it.
"""

from careline_ingress.repository import LegacyIdentity, Users

__all__ = ["LegacyIdentity", "Users"]
