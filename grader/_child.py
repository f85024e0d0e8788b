"""The only place student code runs: a separate Python process.

The grader starts this file as `python -I _child.py WORKDIR` (isolated mode:
no PYTHON* variables, no user site, not even this folder on sys.path), with
WORKDIR as the current directory. It reads WORKDIR/request.json, imports the
student's module, makes one call, and writes plain data back: numpy arrays
with `np.save(allow_pickle=False)` and WORKDIR/result.json. The grader checks
everything it gets; nothing the student prints is read for results.

This file imports nothing from the grader, so it runs as a plain script.
"""

import importlib.util
import json
import os
import sys
import time
import traceback

MAX_ITEMS = 16  # a returned list/tuple longer than this is described, not sent
MAX_TEXT = 2000


def _encode(value, work, counter, depth=0):
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return {"kind": "other", "type": f"numpy array of dtype {array.dtype}", "repr": ""}
        name = f"value{len(counter)}.npy"
        counter.append(name)
        np.save(os.path.join(work, name), array, allow_pickle=False)
        return {"kind": "ndarray", "file": name, "scalar": isinstance(value, np.generic)}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, int, float)):
        return {"kind": "scalar", "type": type(value).__name__, "value": value}
    if isinstance(value, str):
        return {"kind": "scalar", "type": "str", "value": value[:MAX_TEXT]}
    if isinstance(value, (list, tuple)) and depth < 3 and len(value) <= MAX_ITEMS:
        return {
            "kind": type(value).__name__,
            "items": [_encode(v, work, counter, depth + 1) for v in value],
        }
    kind = type(value)
    length = len(value) if isinstance(value, (list, tuple, dict)) else None
    return {"kind": "other", "type": f"{kind.__module__}.{kind.__qualname__}", "length": length}


def _student_frame(exc, target_dir):
    """The last traceback frame inside the student's folder, as one line."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename).startswith(target_dir + os.sep):
            found = frame
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{os.path.basename(exc.filename)}, line {exc.lineno}: {(exc.text or '').strip()}"
    if found is None:
        return None
    return f"{os.path.basename(found.filename)}, line {found.lineno}, in {found.name}: {found.line}"


def main():
    work = os.path.abspath(sys.argv[1])
    with open(os.path.join(work, "request.json"), encoding="utf-8") as fh:
        request = json.load(fh)

    # Everything the student prints (Python or C level) goes to files the
    # grader only shows, truncated; it never parses them.
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        out = os.open(os.path.join(work, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
    sys.dont_write_bytecode = True  # leave no __pycache__ in the student's folder

    import numpy as np

    target_dir = os.path.abspath(request["target_dir"])
    sys.path.insert(0, target_dir)  # the student's own helper modules stay importable
    args = [np.load(os.path.join(work, a), allow_pickle=False) for a in request["args"]]
    kwargs = request["kwargs"]

    stage = "import"
    started = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(request["module"], request["module_file"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[request["module"]] = module
        spec.loader.exec_module(module)
        function = getattr(module, request["function"], None)
        if not callable(function):
            result = {"status": "missing_function"}
        else:
            stage = "call"
            started = time.perf_counter()
            value = function(*args, **kwargs)
            counter = []
            result = {
                "status": "returned",
                "value": _encode(value, work, counter),
                "args_after": [_encode(a, work, counter) for a in args],
            }
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are student errors too
        result = {
            "status": "raised",
            "stage": stage,
            "type": type(exc).__name__,
            "message": str(exc)[:MAX_TEXT],
            "where": _student_frame(exc, target_dir),
        }
    result["seconds"] = time.perf_counter() - started

    partial = os.path.join(work, "result.json.part")
    with open(partial, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    os.replace(partial, os.path.join(work, "result.json"))
    # Skip interpreter shutdown: no atexit handler or finalizer of the student's runs.
    os._exit(0)


if __name__ == "__main__":
    main()
