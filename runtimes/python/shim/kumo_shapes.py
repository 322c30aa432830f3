"""Handler shapes of other Python platforms, run unmodified by the Kumo shim (standard library only).

  lambda    def handler(event, context)                 the default (kumo_shim.py runs it)
  wsgi      a WSGI app: module-level `app`/`application` (Flask: it has wsgi_app) or any callable
            taking (environ, start_response)            PEP 3333
  asgi      an ASGI app: async (scope, receive, send), e.g. FastAPI/Starlette instances; lifespan
            startup runs once before the first request   ASGI 3.0 HTTP
  openfaas  def handle(req) -> str (OpenFaaS python3 template: the body in, the answer out), or
            def handle(event, context) (python3-http: event.body/headers/method/query/path, result
            {"statusCode", "body", "headers"})
`handlerShape` in kumo.json (or KUMO_HANDLER_SHAPE) names the shape when the guess is wrong.
"""

import io
import json
import os
import sys
from urllib.parse import parse_qs, unquote

SHAPES = ("lambda", "wsgi", "asgi", "openfaas", "step")
ACCEPTED = ("def handler(event, context) (Lambda); a WSGI app such as Flask's `app` (environ, start_response); "
            "an ASGI app such as FastAPI's `app` (scope, receive, send); def handle(req) or handle(event, context) "
            "(OpenFaaS); def step(input, context) (workflow step)")


class UnsupportedShape(Exception):
    """The module has no handler Kumo can run: the deploy fails with FN_005."""

    kumo_code = "FN_005"


def declared_shape(code_dir):
    shape = os.environ.get("KUMO_HANDLER_SHAPE")
    if shape:
        return shape
    try:
        with open(os.path.join(code_dir, "kumo.json"), encoding="utf-8") as file:
            shape = json.load(file).get("handlerShape")
    except (OSError, ValueError, AttributeError):
        return None
    return shape if isinstance(shape, str) else None


def param_names(fn):
    import inspect

    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(type(fn), "__call__", fn)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    # An instance's __call__ seen through its class still lists self.
    return names[1:] if names and names[0] == "self" and target is not fn else names


def is_async(fn):
    import inspect

    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))


def classify(obj, attr):
    """The shape of one module attribute, or None."""
    if not callable(obj):
        return None
    if hasattr(obj, "wsgi_app"):
        return "wsgi"
    if attr == "handler":
        return "lambda"  # without inspect (~10 ms of a cold start): handler is Lambda's name
    names = param_names(obj)
    if names[:3] == ["scope", "receive", "send"] or (is_async(obj) and len(names) == 3 and attr in ("app", "application")):
        return "asgi"
    if names[:2] == ["environ", "start_response"] or (len(names) == 2 and attr in ("app", "application")):
        return "wsgi"
    if attr == "handle":
        return "openfaas"
    return "lambda"


def find_shape(module, attr, explicit, declared):
    """(shape, target) for the module; `explicit` says the spec named the attribute."""
    if declared:
        if declared not in SHAPES:
            raise UnsupportedShape(f'unknown handlerShape "{declared}": use one of {", ".join(SHAPES)}')
        names = [attr] if explicit else {"wsgi": ["app", "application"], "asgi": ["app", "application"],
                                          "openfaas": ["handle"], "lambda": ["handler"], "step": ["step"]}[declared]
        for name in names:
            target = getattr(module, name, None)
            if callable(target):
                return declared, target
        raise UnsupportedShape(f'handlerShape "{declared}" from kumo.json, but the module has no callable '
                               f'{" or ".join(names)}. Kumo accepts: {ACCEPTED}')
    if explicit or attr != "handler":
        target = getattr(module, attr, None)
        if attr == "step":
            return ("step", target) if callable(target) else (None, None)
        shape = classify(target, attr)
        return (shape, target) if shape else (None, None)
    for name in ("handler", "app", "application", "handle"):
        target = getattr(module, name, None)
        shape = classify(target, name)
        if shape:
            return shape, target
    return None, None


# --- WSGI (PEP 3333) -------------------------------------------------------------------------------

def run_wsgi(app, method, path, headers, body):
    raw_path, _, query = path.partition("?")
    host = headers.get("host", "localhost")
    name, _, port = host.partition(":")
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(raw_path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": name,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": headers.get("x-forwarded-for", "").split(",")[0].strip() or "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": headers.get("x-forwarded-proto", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if "content-type" in headers:
        environ["CONTENT_TYPE"] = headers["content-type"]
    environ["CONTENT_LENGTH"] = str(len(body)) if body else headers.get("content-length", "")
    for key, value in headers.items():
        if key not in ("content-type", "content-length"):
            environ["HTTP_" + key.upper().replace("-", "_")] = value
    started = {}
    written = []

    def start_response(status, response_headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"], started["headers"] = status, response_headers
        return written.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                written.append(chunk)
    finally:
        if hasattr(result, "close"):
            result.close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    status = int(str(started["status"]).split(" ", 1)[0])
    out = [(str(k).lower(), str(v)) for k, v in started["headers"]]
    return status, out, b"".join(written)


# --- ASGI 3.0 (HTTP and lifespan) ------------------------------------------------------------------

async def asgi_lifespan(app):
    """Runs lifespan startup once; an app without lifespan support (it raises) is fine."""
    import asyncio

    done = asyncio.get_running_loop().create_future()
    messages = [{"type": "lifespan.startup"}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # shutdown never comes: the container stops instead

    async def send(message):
        if not done.done() and message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed"):
            done.set_result(message)

    async def main():
        try:
            await app({"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}, receive, send)
        except BaseException:  # noqa: BLE001 - lifespan unsupported
            pass
        if not done.done():
            done.set_result({"type": "lifespan.unsupported"})

    asyncio.ensure_future(main())
    message = await done
    if message["type"] == "lifespan.startup.failed":
        raise RuntimeError(f"ASGI lifespan startup failed: {message.get('message', '')}")


async def run_asgi(app, method, path, headers, body):
    import asyncio

    raw_path, _, query = path.partition("?")
    host = headers.get("host", "localhost")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": headers.get("x-forwarded-proto", "http"),
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": (headers.get("x-forwarded-for", "").split(",")[0].strip() or "127.0.0.1", 0),
        "server": (host.partition(":")[0], int(host.partition(":")[2] or 80)),
        "state": {},
    }
    sent_body = False
    finished = asyncio.Event()
    response = {"status": None, "headers": [], "body": []}

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            response["status"] = int(message["status"])
            response["headers"] = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            response["body"].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                finished.set()

    await app(scope, receive, send)
    finished.set()
    if response["status"] is None:
        raise RuntimeError("the ASGI app returned without sending http.response.start")
    return response["status"], response["headers"], b"".join(response["body"])


# --- OpenFaaS -------------------------------------------------------------------------------------

class OpenFaasEvent:
    """python3-http's event: body (bytes), headers, method, query, path."""

    def __init__(self, method, path, headers, body):
        raw_path, _, query = path.partition("?")
        self.body = body
        self.headers = headers
        self.method = method
        self.query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(query).items()}
        self.path = raw_path


def run_openfaas(handle, method, path, headers, body, context, lambda_response):
    if len(param_names(handle)) >= 2:
        result = handle(OpenFaasEvent(method, path, headers, body), context)
        if isinstance(result, dict) and "statusCode" not in result and "body" in result:
            result = {"statusCode": 200, **result}
        return lambda_response(result)
    result = handle(body.decode("utf-8", errors="replace"))
    if result is None:
        return 200, [], b""
    if isinstance(result, (bytes, bytearray)):
        return 200, [("content-type", "application/octet-stream")], bytes(result)
    if isinstance(result, str):
        return 200, [("content-type", "text/plain; charset=utf-8")], result.encode()
    return lambda_response(result)
