# warren's code interpreter driver for Python: one long-lived interpreter
# of an E2B code context, run inside the sandbox as `python3 -u -c DRIVER`
# (Python's standard library only). It reads one request a line on stdin,
# {"id": N, "code": "...", "env": {...}}, runs every statement of the
# code in one namespace that lives as long as the context, evaluates a
# last expression and sends its repr, and answers JSON lines on its stdout:
#   {"id": N, "type": "stdout"|"stderr", "text": ...}
#   {"id": N, "type": "result", "text": ..., "is_main_result": true}
#   {"id": N, "type": "error", "name": ..., "value": ..., "traceback": ...}
#   {"id": N, "type": "number_of_executions", "execution_count": K}
#   {"id": N, "type": "end_of_execution"}
# What the code writes, from Python or from programs it starts, is caught
# on its file descriptors 1 and 2; its stdin is /dev/null. SIGINT stops
# the running code (KeyboardInterrupt). warrend reads these lines as
# untrusted input: the code could write anything to them.
import ast
import codecs
import json
import os
import signal
import sys
import threading
import traceback

proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
requests = os.fdopen(os.dup(0), "rb")
lock = threading.Lock()
current = [0]


def send(msg):
    line = json.dumps(msg, ensure_ascii=False)
    with lock:
        proto.write(line + "\n")
        proto.flush()


null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)

MARK = b"\x00warren-drained-%d\x00" % os.getpid()
CHUNK = 16384


class Capture(threading.Thread):
    """One of fds 1, 2 of the interpreter: a pipe read here, forwarded as
    messages of the running execution. drained() waits until what was
    written before it has been sent."""

    def __init__(self, fd, name):
        super().__init__(daemon=True)
        self.name_ = name
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        self.r = r
        self.fd = fd
        self.seen = threading.Event()
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def forward(self, data, final=False):
        text = self.decoder.decode(data, final)
        for i in range(0, len(text), CHUNK):
            send({"id": current[0], "type": self.name_, "text": text[i:i + CHUNK]})

    def run(self):
        pending = b""
        while True:
            data = os.read(self.r, 65536)
            if not data:
                return
            pending += data
            at = pending.find(MARK)
            if at >= 0:
                self.forward(pending[:at], final=True)
                pending = pending[at + len(MARK):]
                self.seen.set()
            # keep a tail that may be the start of the mark
            keep = len(MARK) - 1
            if len(pending) > keep:
                self.forward(pending[:-keep])
                pending = pending[-keep:]

    def drained(self):
        self.seen.clear()
        os.write(self.fd, MARK)
        self.seen.wait()


outs = [Capture(1, "stdout"), Capture(2, "stderr")]
for c in outs:
    c.start()
sys.stdout = os.fdopen(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
sys.stderr = os.fdopen(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)

namespace = {"__name__": "__main__", "__builtins__": __builtins__}
running = [False]


def interrupt(signum, frame):
    if running[0]:
        raise KeyboardInterrupt()


signal.signal(signal.SIGINT, interrupt)


def run(code):
    """Runs the code; returns the last expression's value (or None)."""
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(last, "<cell>", "eval"), namespace)
    return None


def cell_frames(tb):
    """The traceback from the user's code on (the driver's frames dropped)."""
    while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
        tb = tb.tb_next
    return tb


count = 0
for raw in requests:
    try:
        req = json.loads(raw)
        current[0] = int(req.get("id", 0))
        code = str(req.get("code", ""))
        env = dict(req.get("env") or {})
    except Exception as e:  # a request warrend did not send
        send({"id": 0, "type": "error", "name": type(e).__name__, "value": str(e), "traceback": ""})
        continue
    count += 1
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({str(k): str(v) for k, v in env.items()})
    error = None
    value = None
    running[0] = True
    try:
        value = run(code)
    except BaseException as e:  # SystemExit and KeyboardInterrupt too: the context goes on
        error = {"type": "error", "name": type(e).__name__, "value": str(e),
                 "traceback": "".join(traceback.format_exception(type(e), e, cell_frames(e.__traceback__)))}
    finally:
        running[0] = False
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    for c in outs:
        c.drained()
    if error:
        send(dict(error, id=current[0]))
    elif value is not None:
        try:
            text = repr(value)
        except Exception as e:
            text = "<repr failed: %s>" % e
        send({"id": current[0], "type": "result", "text": text, "is_main_result": True})
    send({"id": current[0], "type": "number_of_executions", "execution_count": count})
    send({"id": current[0], "type": "end_of_execution"})
