"""The training budget of a model exercise, counted in work rather than seconds.

A verdict must not depend on how fast or how busy the grading machine is, so
the budget is decided before training starts, from the declaration alone:

    work = epochs x (training images x 3 x forward FLOPs
                     + validation images x forward FLOPs
                     + steps x STEP_FLOPS)

The forward FLOPs of one image come from the model Keras built from the
checked configuration (grader/training/_trainer.py, `forward_flops`); a backward pass
costs about twice a forward one; each step also has a fixed cost
(`STEP_FLOPS`), so a tiny batch size is as expensive as it is slow. The cap is
`cost_cap` times the reference's own work on the same data (course.toml), so
it scales with the data set and a student sees locally exactly the figure the
instructor's grader sees.

Clocks remain only as a safety net against a stuck machine: `safety_timeout_s`
is what a training at the cap would take on a machine ten times slower than a
busy 2-core laptop, and when it fires the grader reports its own failure
("not graded, re-grade"), never the student's.

Everything here is a function of the declaration and the data alone, never
of the environment: the grader's switches (grader/settings.py) turn the
throughput guard off for the test that proves it and scale the safety
clocks (MNIST_COURSE_SAFETY_FACTOR) where it applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .course import Training

# A step's fixed cost (callbacks, optimizer bookkeeping, launching the ops),
# as the FLOPs that take as long: about 2.3 ms per step of a tiny model on 2
# cores here, which is what some 200 MFLOP of convolution take (benchmarks/FAIRNESS.md).
STEP_FLOPS = 200e6
BACKWARD_FACTOR = 3  # forward + backward work per training image, in forward passes
# The throughput guard (grader/training/_trainer.py): a training whose first epoch
# uses more CPU time than its declared work explains is stopped there, as a
# failure ("your model does more work than it declares"). Measured on the
# course's 2-core machine (busy, shared; time.process_time of the trainer,
# every thread), per second of CPU: ex02's reference 59 GFLOP of declared work
# in its second epoch (19 in its first, which traces the graph), ex05's 71
# (39); an LSTM(128) 7.3 and a 784-token Attention 0.38, which is why those
# layers are refused before training (grader/training/vetting.py). The guard allows
# GUARD_FACTOR times less than the reference, plus GUARD_ALLOWANCE_S CPU
# seconds for tracing and start-up, so only a model whose real work is far
# beyond its declaration (or a machine ten times slower per core) is stopped.
REFERENCE_FLOPS_PER_CPU_S = 59e9
GUARD_FACTOR = 10
GUARD_ALLOWANCE_S = 20.0


def epoch_cpu_allowance_s(declared_epoch_flops: float) -> float:
    """CPU seconds the first epoch of a training declaring this much work per epoch may use.
    Not scaled by the safety factor: this one decides a verdict."""
    return GUARD_ALLOWANCE_S + GUARD_FACTOR * declared_epoch_flops / REFERENCE_FLOPS_PER_CPU_S


# The slowest machine the safety net allows for: 10 GFLOP/s, about a tenth of
# this course's 2-core reference machine, below one contended core.
SAFETY_FLOPS_PER_S = 10e9
START_UP_S = 300  # importing TensorFlow, building, evaluating: on top of any training
# An instructor whose grading machines are slower still scales every safety
# clock with MNIST_COURSE_SAFETY_FACTOR (2 doubles them; grader/settings.py):
# it never changes a verdict, only when the grader gives up.


@dataclass(frozen=True)
class Cost:
    """One declared training's work, and what it is made of."""

    epochs: int
    fit_images: int
    validation_images: int
    steps_per_epoch: int
    forward_flops: int

    @property
    def per_epoch(self) -> float:
        return (
            self.fit_images * BACKWARD_FACTOR * self.forward_flops
            + self.validation_images * self.forward_flops
            + self.steps_per_epoch * STEP_FLOPS
        )

    @property
    def total(self) -> float:
        return self.epochs * self.per_epoch


def split_sizes(n_train: int, validation_split: float) -> tuple[int, int]:
    """(images trained on, images validated on), as Keras's validation_split cuts them."""
    fit = int(math.floor(n_train * (1.0 - validation_split)))
    return fit, n_train - fit


def training_cost(forward_flops: int, epochs: int, batch_size: int, validation_split: float, n_train: int) -> Cost:
    fit, validation = split_sizes(n_train, validation_split)
    return Cost(epochs, fit, validation, math.ceil(fit / batch_size), forward_flops)


def reference_cost(training: Training, n_train: int) -> Cost:
    ref = training.reference
    return training_cost(ref.forward_flops, ref.epochs, ref.batch_size, ref.validation_split, n_train)


def cap(training: Training, n_train: int) -> float:
    """The most work a declaration may ask for on this data."""
    return training.cost_cap * reference_cost(training, n_train).total


def start_up_timeout_s() -> float:
    """Wall-clock seconds after which building and inspecting a model counts as stuck
    (before the safety factor)."""
    return START_UP_S


def safety_timeout_s(training: Training, n_train: int) -> float:
    """Wall-clock seconds after which a training counts as stuck: the grader's failure
    (before the safety factor)."""
    return START_UP_S + cap(training, n_train) / SAFETY_FLOPS_PER_S


def flops(value: float) -> str:
    """2.5e13 -> '25 TFLOP', 6.1e7 -> '61 MFLOP': two or three significant figures."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if value >= scale:
            shown = value / scale
            return f"{shown:.3g} {unit}" if shown < 100 else f"{shown:.0f} {unit}"
    return f"{value:.0f} FLOP"
