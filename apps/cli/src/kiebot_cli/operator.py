"""Who runs an operator command: the actor its audit entries name (``cli:<name>``)."""

import getpass

from kiebot_cli.settings import CliSettings
from kiebot_core.domain.audit import Actor, cli_actor


def operator_actor(settings: CliSettings) -> Actor:
    """``cli:`` and ``KIEBOT_OPERATOR``, else the OS user's login name (``unknown`` if none)."""
    name = settings.operator
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            # No login name and no user database entry (a bare container): still audited.
            name = "unknown"
    return cli_actor(name or "unknown")
