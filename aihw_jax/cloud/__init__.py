"""The Composer cloud: a self-hosted experiment service and its client.

``aihw_jax.cloud.service`` is the HTTP service (``aihw-jax serve``);
``aihw_jax.cloud.client`` talks to it. Both share the route table and the
job vocabulary of :mod:`aihw_jax.cloud.api`, and the experiment payloads of
:mod:`aihw_jax.cloud.codec`.
"""
