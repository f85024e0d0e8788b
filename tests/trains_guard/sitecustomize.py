"""Python's startup hook for the processes a test not marked `trains` starts
(tests/conftest.py puts this folder first on their PYTHONPATH): see trainings.py."""

import os

if os.environ.get("MNIST_COURSE_TRAINING_LOG"):
    import trainings

    trainings.install()
