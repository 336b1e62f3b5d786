"""Drive Voucherify's official Python SDK (PyPI voucherify==6.1.1) from couponbridge's Rust tests.

Why this exists: couponbridge's Voucherify simulator (src/sim) stands in for the real
Voucherify in the test suite and the demo. If it answers what Voucherify's own client
cannot read, or refuses what that client sends, tests pass against a Voucherify that
does not exist. The SDK is generated from Voucherify's OpenAPI document, so running it
unchanged against the simulator checks both directions with the client merchants
really use. This script only feeds the SDK arguments and reports what came back; it
asserts nothing: the Rust side (tests/it/sim_sdk.rs) does.

Run as `python tests/sdk/voucherify_driver.py` (the interpreter from setup-venv.sh), with

    VF_API_BASE   the simulator's base URL, e.g. http://127.0.0.1:PORT
    VF_APP_ID     sent as X-App-Id
    VF_APP_TOKEN  sent as X-App-Token

stdin holds one JSON command per line, naming an SDK API class, one of its methods,
and the method's keyword arguments:

    {"api": "VouchersApi", "call": "get_voucher", "args": {"code": "SAVE10"}}
    {"api": "VouchersApi", "call": "create_voucher",
     "args": {"code": "NEW1", "vouchers_create_with_specific_code_request_body":
              {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}}}

An argument whose parameter is typed as an SDK model (or a list of them) is built with
that model's from_dict, as an SDK user building a request from a dict would; the rest
are passed as they are. Add "raw": true to call the method's _without_preload_content
variant: the SDK still builds and sends the request, and the answer is reported as
parsed JSON instead of as the SDK's model (for an answer the SDK's model does not fit).

For each command, exactly one JSON line goes to stdout:

    {"ok": true, "status": 200, "result": <the SDK's model as to_dict(), or the JSON>,
     "elapsed_ms": 12}
    {"ok": false, "exception": "NotFoundException", "status": 404, "body": <JSON or text>,
     "retry_after": "1" | null, "elapsed_ms": 3}
        the SDK raised its ApiException (or a subclass) for a non-2xx answer
    {"ok": false, "exception": "<ClassName>", "message": <str(e)>}
        anything else, e.g. a pydantic ValidationError when the SDK could not read the
        answer into its model, or a DriverError for an unusable command line
"""

import datetime
import inspect
import json
import os
import sys
import time
import typing

import pydantic
import voucherify
from voucherify.exceptions import ApiException


class DriverError(Exception):
    pass


def model_of(annotation):
    """The SDK model class an annotation names, and whether it is a list of them."""
    t = annotation
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
        elif origin is typing.Union:
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if len(args) != 1:
                return None, False
            t = args[0]
        elif origin in (list, typing.List):
            inner, _ = model_of(typing.get_args(t)[0])
            return inner, True
        else:
            break
    if inspect.isclass(t) and issubclass(t, pydantic.BaseModel):
        return t, False
    return None, False


def build_args(method, args):
    params = inspect.signature(method).parameters
    out = {}
    for name, value in args.items():
        if name not in params:
            raise DriverError("%s takes no argument %r" % (method.__name__, name))
        model, is_list = model_of(params[name].annotation)
        if model is None or value is None:
            out[name] = value
        elif is_list:
            out[name] = [model.from_dict(v) for v in value]
        else:
            out[name] = model.from_dict(value)
    return out


def plain(value):
    """What the SDK handed back, as JSON-ready data."""
    if value is None:
        return None
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError("cannot encode %r" % type(value))


def parse_body(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def run(client, cmd):
    api_name = cmd.get("api")
    api_class = getattr(voucherify, api_name or "", None)
    if not inspect.isclass(api_class) or not api_name.endswith("Api"):
        raise DriverError("unknown api %r" % api_name)
    raw = cmd.get("raw", False)
    name = cmd.get("call", "")
    method = getattr(api_class(client), name + ("_without_preload_content" if raw else "_with_http_info"), None)
    if name.startswith("_") or method is None:
        raise DriverError("%s has no method %r" % (api_name, name))
    args = build_args(method, cmd.get("args", {}))
    started = time.monotonic()
    try:
        answer = method(**args)
    except ApiException as e:
        headers = e.headers or {}
        return {
            "ok": False,
            "exception": type(e).__name__,
            "status": e.status,
            "body": parse_body(e.body),
            "retry_after": headers.get("Retry-After"),
            "elapsed_ms": int((time.monotonic() - started) * 1000),
        }
    elapsed_ms = int((time.monotonic() - started) * 1000)
    if raw:
        ok = 200 <= answer.status <= 299
        return {"ok": ok, "status": answer.status, "result": parse_body(answer.data.decode()), "elapsed_ms": elapsed_ms}
    return {"ok": True, "status": answer.status_code, "result": plain(answer.data), "elapsed_ms": elapsed_ms}


def main():
    base = os.environ.get("VF_API_BASE")
    if not base:
        sys.exit("VF_API_BASE must be set")
    config = voucherify.Configuration(
        host=base,
        api_key={"X-App-Id": os.environ.get("VF_APP_ID", ""), "X-App-Token": os.environ.get("VF_APP_TOKEN", "")},
    )
    client = voucherify.ApiClient(config)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise DriverError("a command must be a JSON object")
            out = run(client, cmd)
        except Exception as e:
            out = {"ok": False, "exception": type(e).__name__, "message": str(e)}
        sys.stdout.write(json.dumps(out, default=json_default) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
