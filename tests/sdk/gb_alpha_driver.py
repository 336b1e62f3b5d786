"""Drive Gameball's real Python SDK (PyPI gb-alpha==3.0.0) from couponbridge's Rust tests.

Why this exists: couponbridge answers Gameball's legacy v3.0 discount-coupon API
(POST integrations/coupon, .../coupon/validate, .../coupon/redeem). gb-alpha is the
only official Gameball client that can be pointed at a local server, so the Rust
integration tests run it through this script. That way they check what the SDK
really sends, and whether the SDK really understands couponbridge's answers, instead
of trusting hand-written copies of its wire format. The SDK is called unchanged; this
script only feeds it arguments and reports what came back. It asserts nothing: the
Rust side does.

Run as `python tests/sdk/gb_alpha_driver.py` (the interpreter from setup-venv.sh), with

    GB_API_BASE    base URL with trailing slash, e.g. http://127.0.0.1:PORT/api/v3.0/
    GB_API_KEY     sent as the APIKey header
    GB_SECRET_KEY  sent as the secretKey header and used for the body's hash

stdin holds one JSON command per line:

    {"call": "validate", "player": "cust-1", "code": "SAVE10"}
    {"call": "redeem",   "player": "cust-1", "code": "SAVE10"}
    {"call": "create",   "player": "cust-1",
     "coupon": {"code": "NEW1", "value": 10, "valueType": "percentage", "usageLimit": 1}}

Any command may add "secret" (and/or "api_key") to use another key for that call only.
"coupon" keys map to couponObject setters (see SETTERS). The SDK reads the coupon's
value only if set_value was called, so a coupon without "value" makes the SDK raise
AttributeError; send "value": null to call set_value(None), which leaves value out of
the body.

For each command, exactly one JSON line goes to stdout:

    {"ok": true, "result": <what the SDK returned>}   (a dict, or true for a 200 whose
                                                       body was empty or not JSON)
    {"ok": false, "exception": "GameballException", "raised": false, "status": 404,
     "code": 3, "message": "Not Found", "sdk_message": "Not Found (GameballException ...)"}
        the SDK *returned* (did not raise) a GameballException: any non-200 status whose
        JSON body has "code" and "message"
    {"ok": false, "exception": "APIError" | "GameballException" | "AuthenticationError",
     "raised": true, "status": 500, "code": null, "message": <str(e)>}
        the SDK raised one of its own exceptions: non-200 with a JSON body lacking
        code/message (APIError), non-200 with an empty or non-JSON body
        (GameballException), or a missing key (AuthenticationError, status null)
    {"ok": false, "exception": "<ClassName>", "message": <str(e)>}
        anything else (e.g. ConnectionError, ReadTimeout, AttributeError)
    {"ok": false, "exception": "DriverError", "message": ...}
        the command line itself was unusable
"""

import json
import os
import sys

import gameball
import gameball.constants
from gameball.exceptions.gameball_exception import GameballException

# JSON key in a "create" command's "coupon" -> couponObject setter.
# couponObject has no setter for its other fields (entitled*/prerequisite*/
# oncePerCustomer) and create_discount_coupon never sends them.
SETTERS = {
    "code": "set_code",
    "startAt": "set_start_time",
    "endsAt": "set_end_time",
    "usageLimit": "set_usage_limit",
    "value": "set_value",
    "valueType": "set_value_type",
    "cap": "set_cap",
}


class DriverError(Exception):
    pass


def need(cmd, key, kind=object):
    if key not in cmd or not isinstance(cmd[key], kind):
        raise DriverError("command needs %r" % key)
    return cmd[key]


def call_sdk(cmd):
    call = cmd.get("call")
    if call in ("validate", "redeem"):
        fn = gameball.validate_discount_coupon if call == "validate" else gameball.redeem_discount_coupon
        return fn(need(cmd, "player"), need(cmd, "code"))
    if call == "create":
        coupon = gameball.couponObject(player_unique_id=need(cmd, "player"))
        for key, value in need(cmd, "coupon", dict).items():
            if key not in SETTERS:
                raise DriverError("couponObject has no setter for %r" % key)
            getattr(coupon, SETTERS[key])(value)
        return gameball.create_discount_coupon(coupon)
    raise DriverError("unknown call %r" % call)


def describe_gameball_exception(e, raised):
    # GameballException is declared as (message, http_body, json_body, headers, code),
    # but gb-alpha passes its arguments positionally in another order, so they land in
    # the wrong attributes:
    #   returned: GameballException(msg, rbody, rcode, parsed_body, rheaders)
    #             -> .json_body is the HTTP status, .headers the parsed body dict
    #   raised:   GameballException/APIError(msg, rbody, rcode, ...)
    #             -> .json_body is the HTTP status, no Gameball error code at all
    status = e.json_body if isinstance(e.json_body, int) else None
    out = {"ok": False, "exception": type(e).__name__, "raised": raised, "status": status}
    if not raised:
        out.update(code=e.headers.get("code"), message=e.headers.get("message"), sdk_message=str(e))
    else:
        out.update(code=None, message=str(e))
    return out


def run(cmd):
    saved = gameball.transaction_key, gameball.api_key
    gameball.transaction_key = cmd.get("secret", saved[0])
    gameball.api_key = cmd.get("api_key", saved[1])
    try:
        result = call_sdk(cmd)
    except GameballException as e:
        return describe_gameball_exception(e, raised=True)
    except DriverError as e:
        return {"ok": False, "exception": "DriverError", "message": str(e)}
    except Exception as e:
        return {"ok": False, "exception": type(e).__name__, "message": str(e)}
    finally:
        gameball.transaction_key, gameball.api_key = saved
    if isinstance(result, GameballException):
        return describe_gameball_exception(result, raised=False)
    return {"ok": True, "result": result}


def main():
    base = os.environ.get("GB_API_BASE", "")
    if not base.endswith("/"):
        sys.exit("GB_API_BASE must be set and end with '/' (the SDK appends 'integrations/...')")
    gameball.constants.api_base = base
    gameball.api_key = os.environ.get("GB_API_KEY")
    gameball.transaction_key = os.environ.get("GB_SECRET_KEY")

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command must be a JSON object")
        except ValueError as e:
            out = {"ok": False, "exception": "DriverError", "message": "bad command line: %s" % e}
        else:
            out = run(cmd)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
