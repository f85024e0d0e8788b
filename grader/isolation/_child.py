"""The only place student code runs: a worker process, one per graded module.

The grader starts this file as `python -I _child.py WORKDIR REQUEST_FD RESULT_FD`
(isolated mode: no PYTHON* variables, no user site, not even this folder on
sys.path), with WORKDIR as the current directory. It imports the student's
module once, says whether that worked, then answers calls: one JSON line in
on REQUEST_FD, one JSON line out on RESULT_FD. Arrays travel as `.npy` files
written with `allow_pickle=False`; anything else a function returns is only
described. Nothing the student prints is read for results.

This file imports nothing from the grader, so it runs as a plain script.
"""

import importlib.util
import json
import os
import sys
import time
import traceback
import warnings

MAX_ITEMS = 16  # a returned list/tuple/dict longer than this is described, not sent
MAX_TEXT = 2000
MAX_WARNINGS = 10


def _keras_class(value, dotted):
    """`value` is an instance of keras.<dotted>, checked without importing keras
    when the student's code never did."""
    cls = sys.modules.get("keras")
    for part in dotted.split("."):
        cls = getattr(cls, part, None)
    return isinstance(cls, type) and isinstance(value, cls)


def _callback_config(value):
    """A Keras callback as its class name and the constructor arguments it keeps
    as attributes (EarlyStopping(monitor=..., patience=...), say)."""
    import inspect

    config = {}
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = list(inspect.signature(type(value).__init__).parameters.values())[1:]  # past self
    for name in (p.name for p in parameters if p.kind in named):  # not *args, **kwargs
        attr = getattr(value, name, None)
        if isinstance(attr, (bool, int, float, str)) or attr is None:
            config[name] = attr
    return {"kind": "callback", "class": type(value).__name__, "module": type(value).__module__, "config": config}


def _encode(value, folder, names, depth=0):
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return {"kind": "other", "type": f"numpy array of dtype {array.dtype}"}
        name = os.path.join(folder, f"value{len(names)}.npy")
        names.append(name)
        np.save(name, array, allow_pickle=False)
        return {"kind": "ndarray", "file": name, "scalar": isinstance(value, np.generic)}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, int, float)):
        return {"kind": "scalar", "type": type(value).__name__, "value": value}
    if isinstance(value, str):
        return {"kind": "scalar", "type": "str", "value": value[:MAX_TEXT]}
    if isinstance(value, (list, tuple)) and depth < 3 and len(value) <= MAX_ITEMS:
        return {"kind": type(value).__name__, "items": [_encode(v, folder, names, depth + 1) for v in value]}
    if isinstance(value, dict) and depth < 3 and len(value) <= MAX_ITEMS and all(isinstance(k, str) for k in value):
        return {"kind": "dict", "items": {k[:100]: _encode(v, folder, names, depth + 1) for k, v in value.items()}}
    if _keras_class(value, "Model"):
        # A model crosses as the .keras file Keras itself writes; the grader
        # loads it with safe_mode=True, so no code travels with it.
        name = os.path.join(folder, f"value{len(names)}.keras")
        names.append(name)
        value.save(name)
        return {"kind": "keras_model", "file": name}
    if _keras_class(value, "callbacks.Callback"):
        return _callback_config(value)
    kind = type(value)
    length = len(value) if isinstance(value, (list, tuple, dict)) else None
    return {"kind": "other", "type": f"{kind.__module__}.{kind.__qualname__}", "length": length}


def _argument(arg):
    """An argument the grader sent: an array (.npy), or a model (.keras, loaded safely)."""
    import numpy as np

    if arg.endswith(".keras"):
        import keras

        return keras.saving.load_model(arg, safe_mode=True)
    return np.load(arg, allow_pickle=False)


def _raised(exc, stage, target_dir):
    """An exception as plain data, with the last frame inside the student's folder."""
    where = None
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        where = f"{os.path.basename(exc.filename)}, line {exc.lineno}: {(exc.text or '').strip()}"
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.path.abspath(frame.filename).startswith(target_dir + os.sep):
                where = f"{os.path.basename(frame.filename)}, line {frame.lineno}, in {frame.name}: {frame.line}"
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return {"status": "raised", "stage": stage, "type": type(exc).__name__, "message": message[:MAX_TEXT], "where": where}


def _send(fd, message):
    try:
        line = json.dumps(message)
    except (TypeError, ValueError) as exc:  # e.g. an int with thousands of digits
        message = {"id": message.get("id"), "status": "unsendable", "message": f"not expressible in JSON ({exc})"[:MAX_TEXT]}
        line = json.dumps(message)
    data = (line + "\n").encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


class _CourseBlocker:
    """Student code may not import the grader, the helper package or the solutions."""

    BLOCKED = ("grader", "mnist_course", "solutions")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} belongs to the course's grader; student code cannot import it")
        return None


class LibraryNotAllowed(Exception):
    """Raised where by-hand code uses a package its exercise forbids."""


class _Unavailable:
    """What a forbidden package's names are in a by-hand exercise: anything may be
    named (`from scipy.signal import correlate2d` imports), nothing may be used.
    A use (a call, arithmetic, iteration, a class built on it) is noted for the
    grader and raises LibraryNotAllowed; an isinstance test is False. The sandbox hides the
    real package, so no trick on this side of it reaches the real code."""

    def __init__(self, path, guard):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_guard", guard)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Unavailable(f"{self._path}.{name}", self._guard)

    def __setattr__(self, name, value):
        self._use()

    def __repr__(self):
        return f"<{self._path}: not available in a by-hand exercise>"

    def _use(self, *args, **kwargs):
        raise self._guard.used(self._path)

    __call__ = __iter__ = __len__ = __bool__ = __getitem__ = __setitem__ = __contains__ = _use
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = __rmatmul__ = _use
    __truediv__ = __rtruediv__ = __floordiv__ = __pow__ = __neg__ = __abs__ = __float__ = __int__ = __index__ = _use
    __lt__ = __le__ = __gt__ = __ge__ = __enter__ = __array__ = __mro_entries__ = _use

    # Nothing is an instance of a class that does not exist here: an isinstance test
    # computes nothing and is no use (matplotlib's imshow asks whether an array is a
    # PIL image; an honest file that draws must keep its points).
    def __instancecheck__(self, instance):
        return False

    def __subclasscheck__(self, subclass):
        return False


class _ByHandGuard:
    """A by-hand exercise's import hook: a forbidden package (and every module in
    it) imports as a stand-in module of _Unavailable names; `used` records the
    first few names the code used, which each answer carries to the grader."""

    def __init__(self, forbidden):
        self.forbidden = frozenset(forbidden)
        self.reached = []

    def used(self, path):
        if path not in self.reached and len(self.reached) < 5:
            self.reached.append(path[:200])
        top = path.split(".")[0]
        return LibraryNotAllowed(f"{path}: {top} is not available in this exercise, which is NumPy by hand")

    def take(self):
        reached, self.reached = self.reached, []
        return reached

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in self.forbidden:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=True)

    def create_module(self, spec):
        guard = self

        class StandIn(type(sys)):
            def __getattr__(self, attr):
                if attr.startswith("__") and attr.endswith("__"):
                    raise AttributeError(attr)
                return _Unavailable(f"{spec.name}.{attr}", guard)

        module = StandIn(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def main():
    work = os.path.abspath(sys.argv[1])
    request_fd, result_fd = int(sys.argv[2]), int(sys.argv[3])
    with open(os.path.join(work, "worker.json"), encoding="utf-8") as fh:
        spec_info = json.load(fh)

    # Everything the student prints (Python or C level) goes to files the
    # grader only shows, truncated; stdin is empty.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        out = os.open(os.path.join(work, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
    # Line by line, so what a call printed is on disk even if the process dies right after.
    sys.stdout.reconfigure(line_buffering=True)
    # The grader opens this folder (a tmpfs of the sandbox's own) once it hears this,
    # and answers with one empty line when it holds it. No code of the student's runs
    # before then: a module that fails at once would otherwise take its folder, and
    # its printed output, with it before the grader could open it.
    _send(result_fd, {"id": spec_info["ready_id"], "status": "started"})
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    if not requests.readline():
        os._exit(0)  # the grader is gone
    sys.dont_write_bytecode = True  # the copy it imports came without __pycache__; keep it so

    # Loaded before the student's folder goes on sys.path: a numpy.py of theirs
    # cannot stand in for the numpy that reads the grader's arrays.
    import numpy  # noqa: F401

    sys.meta_path.insert(0, _CourseBlocker())
    guard = _ByHandGuard(spec_info.get("forbidden", ()))
    if guard.forbidden:  # a by-hand exercise: its forbidden packages exist only as stand-ins
        sys.meta_path.insert(0, guard)
    target_dir = os.path.abspath(spec_info["target_dir"])
    sys.path.insert(0, target_dir)  # the student's own helper modules stay importable
    started = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(spec_info["module"], spec_info["module_file"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec_info["module"]] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are student errors too
        _send(result_fd, {"id": spec_info["ready_id"], **_raised(exc, "import", target_dir), "reached": guard.take()})
        os._exit(0)
    _send(result_fd, {"id": spec_info["ready_id"], "status": "ready", "seconds": time.perf_counter() - started})
    guard.take()  # a use the top level caught computed nothing the checks see: each call is judged by its own

    for line in requests:
        request = json.loads(line)
        folder = request["folder"]
        try:
            os.mkdir(folder, 0o700)  # where this call's result files go; the grader reads them from here
        except OSError:
            pass
        function = getattr(module, request["function"], None)
        if not callable(function):
            _send(result_fd, {"id": request["id"], "status": "missing_function"})
            continue
        started = time.perf_counter()
        caught = []
        try:
            args = [_argument(arg) for arg in request["args"]]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                value = function(*args, **request["kwargs"])
        except BaseException as exc:
            result = _raised(exc, "call", target_dir)
        else:
            try:
                names = []
                result = {
                    "status": "returned",
                    "value": _encode(value, folder, names),
                    "args_after": [_encode(a, folder, names) for a in args],
                }
            except BaseException as exc:  # e.g. an array too large for the file-size cap
                result = {"status": "unsendable", "message": f"{type(exc).__name__}: {exc}"[:MAX_TEXT]}
        result["warnings"] = [f"{w.category.__name__}: {w.message}"[:300] for w in caught[:MAX_WARNINGS]]
        result["reached"] = guard.take()  # forbidden names this call used, if any
        result["id"] = request["id"]
        result["seconds"] = time.perf_counter() - started
        _send(result_fd, result)
    # The grader closed the request pipe: skip interpreter shutdown, so no
    # atexit handler or finalizer of the student's runs.
    os._exit(0)


if __name__ == "__main__":
    main()
