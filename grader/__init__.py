"""The course's grader: pytest checks that run student code in a child process.

See grader/README.md for how it works and the JSON report it writes.
"""
import os

# The grader's own numerical work (its references, its checks' comparisons) runs on one BLAS
# thread, as the student's worker does (isolation/sandbox.py): a result's last bits then do not
# depend on the machine's cores, and a grader beside others on a busy machine does not stall.
# OpenBLAS's threads wait for each other by spinning: on two busy cores, the QR decomposition
# behind ex02b's pixel rotation took 6.6 s with two threads and 0.07 s with one. Set here, before
# NumPy loads (it reads the setting then), so that `grader`, `python -m grader` and every grader
# they start have it; the trainer's TensorFlow keeps its own fixed thread counts.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
