"""Kumo runtime shim for Python 3.11: the runtime protocol of DESIGN.md over HTTP/1.1 on a unix socket.

GET /healthz (200 once ready), POST /init {codeDir, handler, env} (stem-cell specialization, 409 once
initialized), ANY /invoke/... (one invocation). Handlers are `def handler(event, context)`: sync ones run
on the connection's thread, async ones on one event-loop thread started the first time it is needed
(asyncio is imported lazily: it alone costs ~50 ms of cold start). WSGI and ASGI apps and OpenFaaS
`handle` functions are detected and run too (kumo_shapes.py). Standard library only.
"""

import time

STARTED = time.perf_counter()

import base64  # noqa: E402 - STARTED must be taken first
import contextvars  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402

import kumo_shapes  # noqa: E402 - beside this file; imported before the code dir joins sys.path

SOCKET_PATH = os.environ.get("KUMO_SOCKET") or "/run/kumo/rt.sock"
TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))", re.I)
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
           409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable"}

invocation_id = contextvars.ContextVar("kumo_invocation_id", default=None)
# A workflow step's log lines, returned with its outcome (a container's stdout reaches the platform apart).
step_lines = contextvars.ContextVar("kumo_step_lines", default=None)
_raw_stdout = sys.stdout.buffer
_emit_lock = threading.Lock()


def emit(level, message, **extra):
    """Writes one JSON log line on the container's stdout, tagged with the current invocation."""
    line = {"ts": int(time.time() * 1000), "level": level, "invocationId": invocation_id.get(), "message": message}
    line.update(extra)
    lines = step_lines.get()
    if lines is not None and len(lines) < 200:
        lines.append({"ts": line["ts"], "level": level, "message": message})
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
    with _emit_lock:
        _raw_stdout.write(data)
        _raw_stdout.flush()


class LogStream:
    """Stands in for sys.stdout / sys.stderr: every complete line becomes one JSON log line."""

    def __init__(self, level):
        self.level = level
        self.local = threading.local()

    def write(self, text):
        pending = getattr(self.local, "pending", "") + text
        *lines, self.local.pending = pending.split("\n")
        for line in lines:
            emit(self.level, line)
        return len(text)

    def flush(self):
        pending = getattr(self.local, "pending", "")
        if pending:
            self.local.pending = ""
            emit(self.level, pending)

    def isatty(self):
        return False


def capture_output():
    import logging

    sys.stdout = LogStream("info")
    sys.stderr = LogStream("error")

    class Handler(logging.Handler):
        def emit(self, record):
            level = {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())
            emit(level, self.format(record))

    logging.basicConfig(level=logging.INFO, handlers=[Handler()], force=True)


def claims_of(header):
    """The kumo-auth-claims header as a dict (the gateway drops kumo-* headers clients send), else None."""
    if not header:
        return None
    try:
        claims = json.loads(header)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


class Context:
    """Lambda-style context passed as the handler's second argument."""

    def __init__(self, inv_id, deadline_ms, event_type, traceparent, auth=None):
        self.aws_request_id = self.invocation_id = inv_id
        self.function_name = os.environ.get("KUMO_FUNCTION_NAME", "")
        self.deadline_ms = deadline_ms
        self.event_type = event_type
        self.traceparent = traceparent
        # The claims the gateway verified (httpAuth.jwt), or None: runtimes/shared/lambda-context.mjs.
        self.auth = auth

    def get_remaining_time_in_millis(self):
        return max(0, self.deadline_ms - int(time.time() * 1000))


class Shim:
    def __init__(self):
        self.state = "stem-cell"  # stem-cell | initializing | ready | failed
        self.handler = None
        self.shape = "lambda"
        self.step = None
        self.lifespan_done = False
        self.init_error = None
        self.loop = None
        self.lock = threading.Lock()

    def initialize(self, code_dir, spec, env, baked=False):
        self.state = "initializing"
        try:
            os.environ.update({k: str(v) for k, v in (env or {}).items()})
            os.environ.update(KUMO_CODE_DIR=code_dir, KUMO_HANDLER=spec)
            self.shape, self.handler, self.step = load_handler(code_dir, spec)
            self.state, self.init_error = "ready", None
            emit("info", f'loaded {self.shape} handler "{spec}" from {code_dir}')
        except BaseException as err:  # noqa: BLE001 - a broken module may raise anything
            self.state, self.init_error = ("failed" if baked else "stem-cell"), err
            emit("error", f'cannot load handler "{spec}" from {code_dir}: {err!r}')
            raise

    def route(self, method, target, headers, body):
        if target == "/invoke" or target.startswith(("/invoke/", "/invoke?")):
            return self.invoke(method, target[len("/invoke"):], headers, body)
        if target == "/healthz" and method == "GET":
            ok = self.state in ("ready", "stem-cell")
            err = repr(self.init_error) if self.init_error else None
            return json_response(200 if ok else 503, {"state": self.state, "runtime": "python", "error": err})
        if target == "/init" and method == "POST":
            return self.init(body)
        return json_response(404, {"code": "FN_006", "message": f"unknown shim route {method} {target}"})

    def init(self, body):
        with self.lock:
            if self.state != "stem-cell":
                return json_response(409, {"code": "FN_006", "message": f"already initialized (state {self.state})"})
            self.state = "initializing"
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            self.state = "stem-cell"
            return json_response(400, {"code": "FN_006", "message": "init body must be JSON {codeDir, handler, env}"})
        code_dir = params.get("codeDir") or "/var/task"
        spec = params.get("handler") or os.environ.get("KUMO_HANDLER") or "main.handler"
        try:
            self.initialize(code_dir, spec, params.get("env"))
        except BaseException as err:  # noqa: BLE001
            return error_response(getattr(err, "kumo_code", "FN_008"), err)
        return json_response(200, {"state": self.state, "kind": self.shape})

    def invoke(self, method, path, headers, body):
        if self.state != "ready":
            reason = f"handler failed to load: {self.init_error!r}" if self.init_error else "not initialized"
            return json_response(503, {"code": "FN_008", "message": reason}, {"kumo-error": "FN_008"})
        inv_id = headers.get("kumo-invocation-id", "")
        invocation_id.set(inv_id)  # route() runs in a fresh contextvars.Context per request
        deadline = int(headers.get("kumo-deadline-ms") or 0) or int(time.time() * 1000) + 300_000
        event_type = headers.get("kumo-event-type")
        context = Context(
            inv_id, deadline, event_type, headers.get("traceparent"), claims_of(headers.get("kumo-auth-claims"))
        )
        path = path if path.startswith("/") else "/" + path
        if event_type == "step" and self.step is not None:
            return self.invoke_step(inv_id, deadline, body)
        try:
            if self.handler is None:
                raise TypeError("this function defines only step(input, context): call it as a workflow step "
                                "(POST /v1/functions/:name/run)")
            if self.shape != "lambda":
                return self.invoke_shape(method, path, headers, body, context)
            event = event_payload(body) if event_type else http_event(method, path, headers, body, inv_id)
            result = self.handler(event, context)
            if hasattr(result, "__await__"):
                result = self.run_async(result)
            return lambda_response(result)
        except BaseException as err:  # noqa: BLE001 - any handler failure is FN_004
            emit("error", "handler threw: " + "".join(traceback.format_exception(err)).rstrip())
            return error_response("FN_004", err)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()

    def invoke_shape(self, method, path, headers, body, context):
        """WSGI, ASGI and OpenFaaS handlers (kumo_shapes.py): the request in, their response out."""
        if self.shape == "wsgi":
            return kumo_shapes.run_wsgi(self.handler, method, path, headers, body)
        if self.shape == "asgi":
            if not self.lifespan_done:
                self.run_async(kumo_shapes.asgi_lifespan(self.handler))
                self.lifespan_done = True
            return self.run_async(kumo_shapes.run_asgi(self.handler, method, path, headers, body))
        if self.shape == "openfaas":
            return kumo_shapes.run_openfaas(self.handler, method, path, headers, body, context, lambda_response)
        raise TypeError(f'this function has only a {self.shape} handler: call it as a workflow step')

    def invoke_step(self, inv_id, deadline, body):
        """A workflow step (runtimes/shared/step.mjs): {input, context} in, {output, nextPath, logs} out.

        A raised exception is answered here (500, kumo-error FN_004) with the path it takes: its own
        `next_path` or `nextPath` attribute, else "error".
        """
        lines = []
        step_lines.set(lines)
        payload = event_payload(body)
        payload = payload if isinstance(payload, dict) else {}
        given = payload.get("context") if isinstance(payload.get("context"), dict) else {}
        context = {name: given.get(name) for name in ("workflowId", "runId", "stepId", "trigger", "previous")}
        context["env"] = given.get("env") or {}
        context["invocationId"] = inv_id
        context["function"] = os.environ.get("KUMO_FUNCTION_NAME") or given.get("function") or ""
        context["version"] = given.get("version")
        context["deadline"] = deadline
        # The verified claims of the end user's JWT (the gateway refuses an `auth` from the caller).
        context["auth"] = given.get("auth") if isinstance(given.get("auth"), dict) else None
        try:
            result = self.step(payload.get("input"), context)
            if hasattr(result, "__await__"):
                result = self.run_async(result)
            outcome = step_outcome(result)
            text = json.dumps(outcome, separators=(",", ":"), allow_nan=False)
        except BaseException as err:  # noqa: BLE001 - any step failure is FN_004 on its error path
            emit("error", "step threw: " + "".join(traceback.format_exception(err)).rstrip())
            path = getattr(err, "next_path", None) or getattr(err, "nextPath", None)
            error = {"code": "FN_004", "message": str(err) or type(err).__name__,
                     "stack": "".join(traceback.format_exception(err)).rstrip(),
                     "nextPath": path if isinstance(path, str) and path else "error", "logs": lines}
            return json_response(500, error, {"kumo-error": "FN_004", "kumo-step": "1"})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            step_lines.set(None)
        return 200, [("content-type", "application/json"), ("kumo-step", "1")], (
            text[:-1] + ',"logs":' + json.dumps(lines) + "}").encode()

    def run_async(self, coroutine):
        """Runs a coroutine on the shared event-loop thread; the caller's context (invocation id) goes along."""
        import asyncio

        with self.lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="kumo-asyncio", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


def load_handler(code_dir, spec):
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    if spec.endswith(".py"):
        path = os.path.join(code_dir, spec)
        module_spec = importlib.util.spec_from_file_location(os.path.basename(spec)[:-3], path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        attr = "handler"
        explicit = False
    else:
        module_name, _, attr = spec.rpartition(".") if "." in spec else (spec, "", "handler")
        explicit = "." in spec
        module = importlib.import_module(module_name)
    shape, handler = kumo_shapes.find_shape(module, attr, explicit, kumo_shapes.declared_shape(code_dir))
    step = getattr(module, "step", None)
    step = step if callable(step) else None
    if shape in (None, "step"):
        if step is None:
            raise kumo_shapes.UnsupportedShape(
                f'handler "{spec}": module has no callable "{attr}" (nor a "step") and no other handler shape. '
                f"Kumo accepts: {kumo_shapes.ACCEPTED}")
        shape, handler = "step", None
    return shape, handler, step


def step_outcome(value):
    """{output, nextPath}: a dict with a str nextPath and no keys but output and nextPath is the envelope."""
    if isinstance(value, dict) and isinstance(value.get("nextPath"), str) and set(value) <= {"output", "nextPath"}:
        return {"output": value.get("output"), "nextPath": value["nextPath"]}
    return {"output": value, "nextPath": "default"}


# The Lambda event and result follow the JS runtimes' rules (runtimes/shared/lambda-event.mjs and
# lambda-result.mjs, shared by edge, node, bun and deno): keep them in step.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_event(method, path, headers, body, inv_id):
    """API Gateway's HTTP API event (payload 2.0): repeated query values comma-joined, cookies split out."""
    from urllib.parse import unquote_plus

    raw_path, _, raw_query = path.partition("#")[0].partition("?")
    raw_path = raw_path or "/"
    content_type = headers.get("content-type", "")
    is_text = bool(TEXT_TYPES.match(content_type)) if content_type else is_utf8(body)
    query = {}
    for pair in filter(None, raw_query.split("&")):
        key, _, value = pair.partition("=")
        key, value = unquote_plus(key), unquote_plus(value)
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    t = time.gmtime(now)
    event = {"version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": raw_query}
    if headers.get("cookie"):
        event["cookies"] = [c for c in re.split(r";\s*", headers["cookie"]) if c]
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "domainName": re.sub(r":\d+$", "", headers.get("host", "")),
        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                 "sourceIp": headers.get("x-forwarded-for", "").split(",")[0].strip(),
                 "userAgent": headers.get("user-agent", "")},
        "requestId": inv_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{time.strftime('%H:%M:%S', t)} +0000",
        "timeEpoch": int(now * 1000),
    }
    if body:
        event["body"] = body.decode(errors="replace") if is_text else base64.b64encode(body).decode()
    event["isBase64Encoded"] = bool(body) and not is_text
    return event


def is_utf8(body):
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def event_payload(body):
    """A non-HTTP event: the body as JSON, as text when it is not JSON, None when empty."""
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def lambda_response(result):
    if result is None:
        return 204, [], b""
    if isinstance(result, (bytes, bytearray)):
        return 200, [("content-type", "application/octet-stream")], bytes(result)
    if isinstance(result, str):
        # As Lambda answers a string (function URLs, API Gateway HTTP APIs): JSON's content type.
        return 200, [("content-type", "application/json")], result.encode()
    if isinstance(result, dict) and "statusCode" in result:
        status = lambda_status(result["statusCode"])
        headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items() if v is not None]
        for k, values in (result.get("multiValueHeaders") or {}).items():
            values = values if isinstance(values, (list, tuple)) else [values]
            headers += [(str(k).lower(), str(v)) for v in values if v is not None]
        headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
        body = result.get("body")
        if body is None:
            body = b""
        elif not isinstance(body, (str, bytes)):
            body = json.dumps(body, separators=(",", ":"))
        if result.get("body") is not None and not any(k == "content-type" for k, _ in headers):
            headers.append(("content-type", "application/json"))
        if isinstance(body, str):
            body = decode_base64(body) if result.get("isBase64Encoded") else body.encode()
        return status, headers, body
    return 200, [("content-type", "application/json")], json.dumps(result, separators=(",", ":")).encode()


def decode_base64(text):
    """Standard base64, ASCII whitespace ignored; anything else fails the invocation, as in the JS runtimes."""
    try:
        text = re.sub(r"[\t\n\f\r ]", "", text)
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise TypeError("the result's body is not base64, but isBase64Encoded is true") from None


def lambda_status(raw):
    """A final HTTP status (200-599) from a statusCode, or a ValueError naming it (FN_004).

    Absent is 200; a three-digit string counts as its number, as in the JS runtimes. A 1xx would be
    an interim response the caller keeps waiting after, and the status line is written as given.
    """
    if raw is None:
        return 200
    status = int(raw) if isinstance(raw, str) and re.fullmatch(r"[0-9]{3}", raw) else raw
    if isinstance(status, int) and not isinstance(status, bool) and 200 <= status <= 599:
        return status
    shown = json.dumps(raw) if isinstance(raw, (str, int, float)) else repr(raw)
    raise ValueError(f"statusCode {shown} is not a response status: it must be an integer from 200 to 599")


def json_response(status, value, extra=None):
    headers = [("content-type", "application/json"), *(extra or {}).items()]
    return status, headers, json.dumps(value).encode()


def error_response(code, err):
    stack = "".join(traceback.format_exception(err)).rstrip()
    message = str(err) or type(err).__name__
    return json_response(500, {"code": code, "message": message, "stack": stack}, {"kumo-error": code})


def read_request(rfile):
    """Parses one HTTP/1.1 request; returns None when the client closed the connection."""
    line = rfile.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while (line := rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        joiner = "; " if name == "cookie" else ", "  # as node joins a repeated cookie header
        headers[name] = f"{headers[name]}{joiner}{value}" if name in headers else value
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int(rfile.readline(65536).split(b";")[0], 16):
            chunks.append(rfile.read(size))
            rfile.readline(65536)
        while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass
        body = b"".join(chunks)
    else:
        length = int(headers.get("content-length") or 0)
        body = rfile.read(length) if length else b""
    return method, target, headers, body


def serve_connection(shim, conn):
    """One thread per connection; keep-alive requests on it are answered in order."""
    rfile = conn.makefile("rb")
    try:
        while request := read_request(rfile):
            method, target, headers, body = request
            try:
                status, out_headers, out_body = contextvars.Context().run(shim.route, method, target, headers, body)
            except Exception as err:  # noqa: BLE001 - a shim bug must not kill the connection loop
                emit("error", f"shim error: {err!r}")
                status, out_headers, out_body = error_response("FN_008", err)
            keep_alive = headers.get("connection", "").lower() != "close"
            head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
            head += [f"{k}: {v}" for k, v in out_headers if k.lower() not in ("content-length", "transfer-encoding")]
            head += [f"content-length: {len(out_body)}", f"connection: {'keep-alive' if keep_alive else 'close'}"]
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + out_body)
            if not keep_alive:
                break
    except (OSError, ValueError):
        pass
    finally:
        rfile.close()
        conn.close()


def main():
    shim = Shim()
    code_dir = os.environ.get("KUMO_CODE_DIR")
    if code_dir:
        try:
            shim.initialize(code_dir, os.environ.get("KUMO_HANDLER") or "main.handler", {}, baked=True)
        except BaseException:  # noqa: BLE001 - reported on /healthz and /invoke
            pass
    if os.path.exists(SOCKET_PATH):
        os.unlink(SOCKET_PATH)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET_PATH)
    os.chmod(SOCKET_PATH, 0o666)
    server.listen(128)

    def stop(*_):
        os.unlink(SOCKET_PATH)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready_ms = round((time.perf_counter() - STARTED) * 1000, 1)
    # "shim ready" with its state and the "cannot load handler" line are read by the builder's
    # deploy-time load check (services/builder/src/load-check.ts): keep their wording.
    emit("info", "shim ready", runtime="python", readyMs=ready_ms, state=shim.state)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_connection, args=(shim, conn), daemon=True).start()


if __name__ == "__main__":
    capture_output()
    main()
