"""``config``: every ``WORKBENCH_*`` setting in effect and where its value came from.

    workbench config          # one line per setting: the variable, its value, (environment) or (default)
    workbench config --json   # the same as one JSON list: name, value, shown, source, default, help, secret

The settings are :data:`workbench.settings.SETTINGS`; a secret (the teacher passcode) is never printed, only
whether it is set. A bad value is the CLI's one ``error:`` line (exit 2), as for every other command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench import settings
from workbench.cli.common import shown, shown_json


def register(sub) -> None:
    p = sub.add_parser("config", help="show every WORKBENCH_* setting in effect and where it came from",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print the settings as one JSON list")
    p.set_defaults(run=run)


def record(item: settings.Effective) -> dict[str, Any]:
    """One setting as JSON: the typed value (None for a secret), how it reads, where it came from.

    >>> s = settings.SETTINGS["WORKBENCH_BATCH"]
    >>> record(settings.Effective(s, 4, "environment"))["value"], record(settings.Effective(s, None, "default"))["shown"]
    (4, '8 with exact kernels, 1 with fast')
    """
    value = item.value
    if item.setting.secret:
        value = None
    elif isinstance(value, tuple):
        value = list(value)
    return {"name": item.setting.name, "value": value, "shown": item.shown(), "source": item.source,
            "default": item.setting.shown_default(), "help": item.setting.help, "secret": item.setting.secret}


def lines(env: Mapping[str, str] | None = None) -> list[str]:
    """The table ``workbench config`` prints: variable, value, (source); every value terminal-safe.

    >>> lines({"WORKBENCH_BATCH": "4", "WORKBENCH_TEACHER_PASSCODE": "s3cret"})[5:7]
    ['WORKBENCH_KERNELS            exact  (default)', 'WORKBENCH_BATCH              4  (environment)']
    """
    items = settings.effective(env)
    width = max(len(item.setting.name) for item in items)
    return [f"{item.setting.name:<{width}}  {shown(item.shown())}  ({item.source})" for item in items]


def run(args) -> int:
    if args.json:
        print(shown_json([record(item) for item in settings.effective()]))
    else:
        print("\n".join(lines()))
    return 0
