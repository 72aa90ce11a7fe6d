"""Parameter dataclasses of the simulator (IO, update, devices, mapping)."""
