"""aihw_jax: analog in-memory-computing hardware simulation in JAX.

The public modules follow aihwkit's layout: ``aihw_jax.simulator.configs``
(tile configurations), ``aihw_jax.nn`` (layers and losses),
``aihw_jax.optim`` (AnalogSGD), ``aihw_jax.datasets`` and
``aihw_jax.experiments`` (BasicTraining and its runners).
"""

__version__ = "0.1.0"
