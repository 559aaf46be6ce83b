"""An embedded Telnyx: the Call Control endpoints Dial-A-Joke uses, over real HTTP.

Mounted under /simulator when no API key is configured, it accepts dial, answer,
speak and hangup commands as Telnyx does (same paths, bodies, error shapes and codes),
and plays each call by POSTing Ed25519-signed webhooks to the call's webhook_url,
signed with a key pair generated at start-up. The service verifies them with the
simulator's public key through the same code path it uses for Telnyx.

Any valid number answers; the RESERVED numbers behave badly on purpose so every path
can be tried by hand, and :class:`Faults` make the API and the webhooks misbehave.
``python -m dialajoke.simulator`` runs one on its own, to stand in for Telnyx.
"""

from .core import RESERVED, SIMULATOR_NUMBER, Behaviour, SimulatedCall, TelnyxSimulator
from .faults import Faults

__all__ = ["RESERVED", "SIMULATOR_NUMBER", "Behaviour", "Faults", "SimulatedCall", "TelnyxSimulator"]
