"""ringc's logging: the "ringc" logger and its children, and `RINGC_LOG` (docs/logging.md).

The library logs through `logging.getLogger("ringc")` and children named after the part
that logs ("ringc.launch", "ringc.codegen", "ringc.opencl", ...) and installs no handler
of its own: what is shown, and where, is the application's choice. `RINGC_LOG` is for a
quick look without writing any logging code: `configure_from_env()`, run when the
launcher is first imported (the first `rc.launch` or `rc.device_facts`), attaches one
handler writing to stderr. Without `RINGC_LOG` (and without a handler of the
application's), Python's last-resort handler still prints WARNING and above to stderr,
the message alone.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["log", "LEVELS", "FORMAT", "configure_from_env"]

log = logging.getLogger("ringc")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMAT = "ringc %(levelname)s %(name)s: %(message)s"
_MARK = "_ringc_from_env"          # the attribute that tells our handler from others


def configure_from_env(environ: dict[str, str] | None = None) -> logging.Handler | None:
    """Apply `RINGC_LOG` (read from `environ`, by default `os.environ`): one of debug,
    info, warning or error (any case) sets the "ringc" logger's level and attaches one
    `StreamHandler` to stderr formatted as `FORMAT`; returns that handler. Called again,
    it reuses the handler it attached (never a second one) and sets the level anew.

    Unset or empty: does nothing and returns None (the library installs no handler).
    Any other value: one `UserWarning` naming the allowed values, nothing configured.
    Limits: the handler is on "ringc", whose records also propagate to the root logger,
    so an application that configured the root logger as well sees them twice; the
    handler writes to the `sys.stderr` of the moment it was attached."""
    value = (os.environ if environ is None else environ).get("RINGC_LOG", "").strip()
    if not value:
        return None
    level = LEVELS.get(value.lower())
    if level is None:
        warnings.warn(f"RINGC_LOG={value!r} is not a level ringc knows (use one of "
                      f"{', '.join(LEVELS)}); logging is left as it is", stacklevel=2)
        return None
    handler = next((h for h in log.handlers if getattr(h, _MARK, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _MARK, True)
        log.addHandler(handler)
    log.setLevel(level)
    return handler
