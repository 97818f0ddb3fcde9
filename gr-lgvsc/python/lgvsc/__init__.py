# SPDX-License-Identifier: GPL-3.0-or-later
"""gnuradio.lgvsc: GNU Radio side of LGVSC (generative semantic video over a real PHY).

PHY hier blocks with a PDU interface, one block per module with the same name
as the class and the GRC id suffix ``lgvsc_<name>`` (see docs/PHY.md).  Other
blocks in this package (e.g. the ML-worker bridges) are imported on first
use, ``lgvsc.<name>``, so that one block's optional dependency cannot break
the PHYs.
"""

import importlib as _importlib
import pkgutil as _pkgutil

# The compiled blocks (lgvsc_python, C++) live in the built/installed copy of this package;
# when the source tree is imported first (tests overlay gr-lgvsc/python/lgvsc), find them in the
# other gnuradio/lgvsc directories on sys.path.
__path__ = _pkgutil.extend_path(__path__, __name__)

from .ofdm_pdu_rx import ofdm_pdu_rx
from .ofdm_pdu_tx import ofdm_pdu_tx
from .psk_pdu_rx import psk_pdu_rx
from .psk_pdu_tx import psk_pdu_tx

__all__ = ["ofdm_pdu_rx", "ofdm_pdu_tx", "psk_pdu_rx", "psk_pdu_tx"]


def __getattr__(name):
    """Import block ``name`` from module ``.name`` on first access (PEP 562)."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        mod = _importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise
    value = getattr(mod, name, mod)
    globals()[name] = value
    return value
