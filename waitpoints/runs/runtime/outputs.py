"""What `wait.for_token` returns: a result, checked against the `output_type=` asked for."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from waitpoints.errors import WaitpointFailedError, WaitpointsError, WaitpointTimeoutError
from waitpoints.models import TIMEOUT_ERROR_NAME, Waitpoint


class InvalidOutput(WaitpointsError, TypeError):
    """A waitpoint's output does not match the `output_type=` asked for."""


@dataclass(frozen=True)
class WaitResult:
    """The outcome of `wait.for_token`: `ok` with `output`, or not ok with `error` (a timeout,
    or the failure the token was failed with)."""

    ok: bool
    output: Any = None
    error: WaitpointTimeoutError | WaitpointFailedError | None = None
    waitpoint_id: str = ""

    def unwrap(self) -> Any:
        """The output; raises the error when the token timed out or was failed."""
        if not self.ok:
            raise self.error or WaitpointTimeoutError("Waitpoint timed out")
        return self.output


def waitpoint_result(waitpoint: Waitpoint) -> dict[str, Any]:
    return {"ok": not waitpoint.result_is_error, "output": waitpoint.result_output}


def result_from_record(record: dict[str, Any], waitpoint_id: str, output_type: Any) -> WaitResult:
    if record.get("ok"):
        output = record.get("output")
        if output_type is not None:
            output = convert_output(output, output_type)
        return WaitResult(ok=True, output=output, waitpoint_id=waitpoint_id)
    error_body = record.get("output") or {}
    message = error_body.get("message") if isinstance(error_body, dict) else None
    name = error_body.get("name") if isinstance(error_body, dict) else None
    failed = isinstance(error_body, dict) and bool(error_body) and name != TIMEOUT_ERROR_NAME
    if failed:
        error = WaitpointFailedError(message or f"Waitpoint {waitpoint_id} failed")
        error.name = name or "Error"
        error.data = error_body.get("data")
    else:
        error = WaitpointTimeoutError(message or f"Waitpoint {waitpoint_id} timed out")
        error.name = name or TIMEOUT_ERROR_NAME
    error.output = error_body
    return WaitResult(ok=False, error=error, waitpoint_id=waitpoint_id)


def convert_output(value: Any, output_type: Any, path: str = "output") -> Any:
    """Check `value` against a dataclass, TypedDict or simple type, converting dataclasses."""
    if output_type is Any or output_type is object:
        return value
    origin = typing.get_origin(output_type)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(output_type):
            try:
                return convert_output(value, option, path)
            except InvalidOutput:
                continue
        raise InvalidOutput(f"{path}: {value!r} matches none of {output_type}")
    if output_type is None or output_type is type(None):
        if value is not None:
            raise InvalidOutput(f"{path}: expected null, got {type(value).__name__}")
        return None
    if dataclasses.is_dataclass(output_type) and isinstance(output_type, type):
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object for {output_type.__name__}")
        hints = typing.get_type_hints(output_type)
        arguments = {}
        for item in dataclasses.fields(output_type):
            if item.name in value:
                arguments[item.name] = convert_output(
                    value[item.name], hints.get(item.name, Any), f"{path}.{item.name}"
                )
            elif (
                item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            ):
                raise InvalidOutput(f"{path}: missing field {item.name!r}")
        return output_type(**arguments)
    if typing.is_typeddict(output_type):
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object for {output_type.__name__}")
        hints = typing.get_type_hints(output_type)
        missing = sorted(output_type.__required_keys__ - value.keys())
        if missing:
            raise InvalidOutput(f"{path}: missing key(s) {', '.join(map(repr, missing))}")
        return {
            key: convert_output(item, hints[key], f"{path}.{key}") if key in hints else item
            for key, item in value.items()
        }
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise InvalidOutput(f"{path}: expected a list, got {type(value).__name__}")
        arguments = typing.get_args(output_type)
        item_type = arguments[0] if arguments else Any
        return [convert_output(item, item_type, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object, got {type(value).__name__}")
        arguments = typing.get_args(output_type)
        value_type = arguments[1] if len(arguments) == 2 else Any
        return {
            key: convert_output(item, value_type, f"{path}.{key}") for key, item in value.items()
        }
    if origin is typing.Literal:
        if value not in typing.get_args(output_type):
            raise InvalidOutput(f"{path}: {value!r} is not one of {typing.get_args(output_type)}")
        return value
    if isinstance(output_type, type):
        if output_type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if output_type is int and isinstance(value, bool):
            raise InvalidOutput(f"{path}: expected int, got bool")
        if not isinstance(value, output_type):
            raise InvalidOutput(
                f"{path}: expected {output_type.__name__}, got {type(value).__name__}"
            )
        return value
    return value
