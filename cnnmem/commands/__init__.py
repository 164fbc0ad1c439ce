"""CLI command modules; each exposes ``COMMANDS``, registered by :mod:`cnnmem.cli`."""
