"""GE's expectation kwargs looked up from one configuration per call (``install``, called by ``runner``).

Great Expectations 1.x builds an expectation's ``configuration`` (a pydantic
``.dict()`` of the whole expectation, then an ``ExpectationConfiguration``) afresh on
every access, and its kwargs helpers access it once per key: ``_get_domain_kwargs``
once per domain key, ``_get_success_kwargs`` once per success key, and
``_get_success_kwarg`` twice (``_get_runtime_kwargs`` calls it once per runtime key).
Building the validation graph calls them ~180 times per suite run: publishing five
demo days (45 validations) built 83,591 configurations, 6.3 of GE's 13.2 s under
cProfile; without the profiler, six days published in 17.3-18.4 s instead of 19.3-23.5 s.

``install`` replaces those four helpers with the same code reading one configuration
per call. Nothing else changes: the configuration is a function of the expectation's
fields, which a lookup does not modify, so every kwarg, metric and result is GE's own
(tests/quality/test_same_verdicts.py compares whole validation results with and without).
It installs only over the very code it was written against (a hash of the helpers'
source); another GE version keeps its own helpers.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any

log = logging.getLogger(__name__)

# sha256 of the source of the HELPERS
# in great_expectations 1.24.1 (great_expectations/expectations/expectation.py).
KNOWN_SOURCE = "9d78e87e4169fd6e1e491da226e27119e9f9bdb591d4f8169b432357b160d08c"
HELPERS = ("_get_success_kwarg", "_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs")
_ORIGINALS: dict[str, Any] = {}


def source_hash() -> str:
    from great_expectations.expectations.expectation import Expectation

    helpers = [_ORIGINALS.get(name) or getattr(Expectation, name) for name in HELPERS]
    return hashlib.sha256("".join(inspect.getsource(helper) for helper in helpers).encode()).hexdigest()


def install() -> bool:
    """Install the helpers (idempotent); False, and GE left as it is, where its code differs."""
    from great_expectations.expectations.expectation import Expectation

    if _ORIGINALS:
        return True
    try:
        found = source_hash()
    except (OSError, TypeError):  # no source to compare (e.g. an installation without .py files)
        found = "unknown"
    if found != KNOWN_SOURCE:
        log.info("Great Expectations' kwargs helpers differ from the known ones (%s): kept as they are", found[:12])
        return False
    for name in HELPERS:
        _ORIGINALS[name] = getattr(Expectation, name)
    Expectation._get_success_kwarg = _get_success_kwarg  # type: ignore[method-assign]
    Expectation._get_domain_kwargs = _get_domain_kwargs  # type: ignore[method-assign]
    Expectation._get_success_kwargs = _get_success_kwargs  # type: ignore[method-assign]
    Expectation._get_runtime_kwargs = _get_runtime_kwargs  # type: ignore[method-assign]
    return True


def uninstall() -> None:
    """GE's own helpers back (the tests compare the two)."""
    from great_expectations.expectations.expectation import Expectation

    for name, helper in _ORIGINALS.items():
        setattr(Expectation, name, helper)
    _ORIGINALS.clear()


def _get_success_kwarg(self: Any, key: str, default: Any = None) -> Any:
    return _success_kwarg(self, self.configuration.kwargs, key, default)


def _success_kwarg(self: Any, kwargs: dict[str, Any], key: str, default: Any = None) -> Any:
    if key in kwargs:
        return kwargs[key]
    field = self.__fields__.get(key)
    if field is not None:
        return field.default if not field.required else default
    logging.getLogger("great_expectations.expectations.expectation").warning(
        f'_get_success_kwarg called with key "{key}", but it is not a known field of {type(self).__name__}'
    )
    return default


def _get_domain_kwargs(self: Any) -> dict[str, Any]:
    from great_expectations.expectations.expectation import InvalidExpectationKwargsError

    kwargs = self.configuration.kwargs
    domain_kwargs = {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}
    missing_kwargs = set(self.domain_keys) - set(domain_kwargs.keys())
    if missing_kwargs:
        raise InvalidExpectationKwargsError(f"Missing domain kwargs: {list(missing_kwargs)}")
    return domain_kwargs


def _get_success_kwargs(self: Any) -> dict[str, Any]:
    domain_kwargs = self._get_domain_kwargs()
    kwargs = self.configuration.kwargs
    success_kwargs = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success_kwargs.update(domain_kwargs)
    return success_kwargs


def _get_runtime_kwargs(self: Any, runtime_configuration: dict | None = None) -> dict:
    from great_expectations.expectations.expectation import parse_result_format

    runtime_configuration = runtime_configuration or {}
    success_kwargs = self._get_success_kwargs()
    kwargs = self.configuration.kwargs
    runtime_kwargs = {
        key: runtime_configuration.get(key, _success_kwarg(self, kwargs, key)) for key in self.runtime_keys
    }
    runtime_kwargs.update(success_kwargs)
    runtime_kwargs["result_format"] = parse_result_format(runtime_kwargs["result_format"])
    return runtime_kwargs
