"""Where the templates are: inside the installed package (`app.templates`, from a wheel or an
editable install), else the checkout's top-level `templates/` (`flask --app app run`,
PYTHONPATH=. in tests)."""

from __future__ import annotations

import importlib.util
import os

_CHECKOUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")


def templates_dir() -> str:
    try:
        spec = importlib.util.find_spec("app.templates")
    except ImportError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if os.path.isfile(os.path.join(location, "login.html")):
            return str(location)
    return _CHECKOUT
